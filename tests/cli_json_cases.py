"""The `--json` commands of docs/JSON.md, run against one seeded database (imported, not
collected): tests/test_cli_json.py runs each and compares its keys with the doc's example."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tui_seed import NOW, SOURCES, console_scene

from mrt.store.models import Alert, Outbox, QuarantinedItem, Silence

# upstream text a terminal would act on (C1 CSI, bidi override): --json must escape it
HOSTILE_TITLE = "evil\u009b31m title \u202eenil"

CONFIG = """
version = 1
[state]
sqlite_path = "{db}"
backup_dir = "{backups}"
[sources.github]
repos = ["vllm-project/vllm"]
[sources.huggingface]
orgs = ["deepseek-ai"]
[channels.welink]
urls = ["json://127.0.0.1:9/hook"]
[[rules]]
name = "deepseek"
when = {{ keywords = ["deepseek"] }}
notify = {{ channels = ["welink"] }}
"""


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]  # after `mrt`; {config} {db} {tmp} {alert} {dead} {silence} {fp} filled in
    exit: int = 0
    env: dict[str, str] = field(default_factory=dict)


# The doc's heading (`mrt db check`) -> how the test runs it. Every command that reports.
CASES: dict[str, Case] = {
    "mrt check": Case(("check", "--config", "{config}", "--json")),
    "mrt config show": Case(("config", "show", "--config", "{config}", "--json")),
    "mrt config schema": Case(("config", "schema", "--json")),
    "mrt rules lint": Case(("rules", "lint", "--config", "{config}", "--json")),
    "mrt rules test": Case(("rules", "test", "--config", "{config}", "--since", "30d", "--json")),
    "mrt rules suggest": Case(("rules", "suggest", "deepseek", "--config", "{config}", "--json")),
    "mrt db path": Case(("db", "path", "--config", "{config}", "--json")),
    "mrt db migrate": Case(("db", "migrate", "--config", "{config}", "--json")),
    "mrt db backup": Case(("db", "backup", "--config", "{config}", "{tmp}/new.sqlite3", "--json")),
    "mrt db restore": Case(("db", "restore", "--config", "{config}", "{tmp}/copy.sqlite3",
                            "--yes", "--json")),
    "mrt db check": Case(("db", "check", "--config", "{config}", "--json")),
    "mrt db prune": Case(("db", "prune", "--config", "{config}", "--dry-run", "--json")),
    "mrt cursor reset": Case(("cursor", "reset", SOURCES[0], "--to", "baseline", "--yes",
                              "--config", "{config}", "--json")),
    # the scene has dead letters: exit 4, "something needs you" (README, Exit codes)
    "mrt outbox": Case(("outbox", "--config", "{config}", "--json"), exit=4),
    "mrt outbox retry": Case(("outbox", "retry", "--all-dead", "--yes", "--config", "{config}",
                              "--json")),
    "mrt outbox discard": Case(("outbox", "discard", "{dead}", "--yes", "--config", "{config}",
                                "--json")),
    "mrt alerts ack": Case(("alerts", "ack", "{alert}", "--yes", "--config", "{config}",
                            "--json")),
    "mrt alerts unack": Case(("alerts", "unack", "{alert}", "--config", "{config}", "--json")),
    "mrt sources": Case(("sources", "--config", "{config}", "--json")),
    "mrt sources poll": Case(("sources", "poll", SOURCES[0], "--config", "{config}", "--json")),
    "mrt sources quarantined": Case(("sources", "quarantined", "--config", "{config}", "--json")),
    "mrt silence add": Case(("silence", "add", "--match", "source_key=github:*", "--for", "2h",
                             "--config", "{config}", "--json")),
    "mrt silence list": Case(("silence", "list", "--config", "{config}", "--json")),
    "mrt silence expire": Case(("silence", "expire", "{silence}", "--config", "{config}",
                                "--json")),
    "mrt replay": Case(("replay", "--since", "2026-11-01", "--dry-run", "--config", "{config}",
                        "--json")),
    # the seeded channel's robot is 127.0.0.1:9, where nothing listens: the test fails, exit 1
    "mrt notify test": Case(("notify", "test", "welink", "--config", "{config}", "--json"),
                            exit=1),
    "mrt audit": Case(("audit", "--config", "{config}", "--limit", "5", "--json")),
    "mrt events": Case(("events", "--config", "{config}", "--limit", "5", "--json")),
    "mrt trace": Case(("trace", "{alert}", "--config", "{config}", "--json")),
    "mrt init": Case(("init", "--config", "{tmp}/new.toml", "--json")),
    "mrt service install": Case(("service", "install", "--config", "{config}", "--json"),
                                env={"XDG_CONFIG_HOME": "{tmp}/xdg"}),
    # errors: one document on stdout, {"error": ...}, with the text mode's exit code
    "error": Case(("trace", "999999", "--config", "{config}", "--json"), exit=1),
}


def seed(tmp: Path, db_path: Path) -> dict[str, str]:
    """The console's scene plus one active silence; the values the argv templates name."""
    console_scene()
    silence = Silence.create(matcher={"source": "modelscope"}, created_at=NOW,
                             expires_at=NOW + timedelta(days=3650), created_by="test")
    QuarantinedItem.create(
        source_key=SOURCES[0], item_key="issue #?", upstream_id=None,
        url="https://github.com/vllm-project/vllm/issues", first_seen_at=NOW, last_seen_at=NOW,
        reason='field "number": expected an integer, found "abc"', count=1,
        raw={"number": "abc", "title": HOSTILE_TITLE})
    config = tmp / "mrt.toml"
    config.write_text(CONFIG.format(db=db_path, backups=tmp / "backups"), encoding="utf-8")
    with sqlite3.connect(db_path) as live, sqlite3.connect(tmp / "copy.sqlite3") as copy:
        live.backup(copy)  # what `mrt db restore` restores
    dead = Outbox.select().where(Outbox.status == "dead").order_by(Outbox.id).first()
    return {
        "config": str(config),
        "db": str(db_path),
        "tmp": str(tmp),
        "alert": str(Alert.select().order_by(Alert.id).first().id),
        "dead": str(dead.id),
        "silence": str(silence.id),
    }


def argv_of(case: Case, values: dict[str, str]) -> list[str]:
    return [a.format(**values) for a in case.argv]


def env_of(case: Case, values: dict[str, str]) -> dict[str, str]:
    return {k: v.format(**values) for k, v in case.env.items()} or dict(os.environ)
