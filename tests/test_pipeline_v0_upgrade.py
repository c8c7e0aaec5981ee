"""A worker pointed at an upgraded v0 state file keeps v0's progress and never alerts again
what v0 already saw; later changes of the same resources are news again."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    close,
    iso,
    make_pool,
    recorded_issues,
    reopen,
    touch,
)

from mrt.config import ChannelConfig, Config
from mrt.delivery.channels import resolve_targets
from mrt.events import fingerprint_of
from mrt.pipeline import Engine, build_specs, run_source_cycle
from mrt.rules import compile_rules
from mrt.sources import github
from mrt.store.db import open_store
from mrt.store.models import Alert, Event, SourceState

REPO = "PyGithub/PyGithub"
V0_CURSOR = T0 - timedelta(days=1)


def build_v0_file(path: Path, seen_issue_ids: list[int]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE cursors(source_key TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT)")
    conn.execute("CREATE TABLE seen_events(fingerprint TEXT PRIMARY KEY, first_seen_at TEXT)")
    conn.execute(
        "CREATE TABLE alerts(fingerprint TEXT PRIMARY KEY, alert_json TEXT, created_at TEXT)"
    )
    conn.execute(
        "CREATE TABLE notify_failures(id INTEGER PRIMARY KEY, fingerprint, channel, error, created_at)"
    )
    for kind in ("issues", "pulls"):
        conn.execute(
            "INSERT INTO cursors VALUES (?, ?, ?)",
            (
                f"github:{REPO}:{kind}",
                json.dumps({"updated_after": iso(V0_CURSOR)}),
                iso(V0_CURSOR),
            ),
        )
    for issue_id in seen_issue_ids:
        fp = fingerprint_of("github", "repo_issue", REPO, "issue_updated", str(issue_id))
        conn.execute("INSERT INTO seen_events VALUES (?, ?)", (fp, iso(V0_CURSOR)))
    conn.commit()
    conn.close()


def test_upgraded_v0_state_alerts_only_what_v0_never_saw(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    issues = [i for i in recorded_issues() if "pull_request" not in i]
    seen_by_v0, unseen = issues[0], issues[1]
    for issue in (seen_by_v0, unseen):
        touch(issue, V0_CURSOR - timedelta(days=3), title=f"DeepSeek support #{issue['number']}")
    path = tmp_path / "mrt_state.sqlite3"
    build_v0_file(path, [seen_by_v0["id"]])
    db = open_store(path)
    assert SourceState.get_by_id(f"github:{REPO}").cursor == {"since": iso(V0_CURSOR)}

    config = Config(
        watch_keywords=["deepseek"],
        sources={"github": github.Config(repos=[REPO], base_url=httpserver.url_for("/"))},
        channels={"hook": ChannelConfig(urls=[f"json://127.0.0.1:{httpserver.port}/hook"])},
    )
    engine = Engine(
        config=config,
        db=db,
        pool=make_pool(FakeClock()),
        targets=resolve_targets(config, {}),
        ruleset=compile_rules(config),
        env={},
        rng=random.Random(1),
        plugins={"github": github},
    )
    spec = build_specs(config, engine.plugins)[0]
    FakeGitHub(httpserver, REPO, issues)
    close(seen_by_v0, T0 + timedelta(minutes=1))
    close(unseen, T0 + timedelta(minutes=2))

    first = asyncio.run(run_source_cycle(engine, spec, T0 + timedelta(minutes=5)))
    assert first.outcome == "ok" and first.new_events == 2 and first.alerts == 1
    decisions = {e.resource_id: e.decision for e in Event.select()}
    assert decisions[f"{REPO}#{seen_by_v0['number']}"] == "seen_by_v0"
    assert decisions[f"{REPO}#{unseen['number']}"] == "notify"
    assert Alert.get().title == unseen["title"]

    # v1 now holds a snapshot of the issue v0 saw: its next change is news
    reopen(seen_by_v0, T0 + timedelta(minutes=10))
    second = asyncio.run(run_source_cycle(engine, spec, T0 + timedelta(minutes=15)))
    assert second.alerts == 1
    assert Alert.select().order_by(Alert.id.desc()).get().title == seen_by_v0["title"]
    db.close()
