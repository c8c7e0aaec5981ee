"""`mrt rules suggest RULE`: keywords learned from the events a rule matched (a real SQLite
file, the real command): the words its matches share and the rest rarely say, deterministic."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from test_rules_dryrun import store_event

from mrt.cli import main
from mrt.events import utcnow
from mrt.store.db import database_proxy

MATCHED = [
    "DeepSeek-V3 FP8 weights load slowly",
    "FP8 weights for DeepSeek MoE experts",
    "DeepSeek sparse attention kernel needs FP8 weights",
    "Quantised FP8 checkpoint of DeepSeek fails",
]
OTHER = [
    "Fix scheduler deadlock", "Docs: install on ROCm", "Scheduler preemption metrics",
    "Bump pytest", "Quantised kernels for Llama",
]
RULES = {"rules": [{"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": True}],
         "channels": {"ops": {"urls": ["json://127.0.0.1/ops"]}}}


@pytest.fixture
def stored(db: peewee.Database, tmp_path: Path) -> Path:
    day = utcnow() - timedelta(days=1)
    for title in MATCHED:
        row = store_event(title, decision="notify", observed_at=day, alerted=True)
        row.decision_detail = {"action": "notify", "matched": [
            {"rule": "deepseek", "reasons": ["title contained 'deepseek'"]}]}
        row.save()
    for title in OTHER:
        store_event(title, decision="none", observed_at=day)
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps(RULES), encoding="utf-8")
    return path


def suggest(config: Path, db_path: Path, db: peewee.Database, *more: str) -> int:
    code = main(["rules", "suggest", "deepseek", "--config", str(config),
                 "--db", str(db_path), *more])
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def test_the_words_the_matches_share_come_first(
    stored: Path, db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert suggest(stored, db_path, db, "--json", "--top", "3") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matched"] == 4 and report["other"] == 5
    words = [s["word"] for s in report["suggestions"]]
    assert words[:2] == ["fp8", "weights"]  # in every match / three of four, in no other
    assert "deepseek" not in words  # already the rule's own keyword
    assert report["suggestions"][0] == {"word": "fp8", "score": report["suggestions"][0]["score"],
                                        "matched": 4, "other": 0}
    assert "quantised" not in words[:2]  # also said by another event: it ranks lower

    assert suggest(stored, db_path, db, "--json", "--top", "3") == 0  # the same list again
    again = json.loads(capsys.readouterr().out)
    assert again["suggestions"] == report["suggestions"]

    assert suggest(stored, db_path, db) == 0
    out = capsys.readouterr().out
    assert out.startswith("rule deepseek: 4 matched, 5 other event(s) since ")
    assert "  fp8 " in out and "in 4 matched, 0 other" in out


def test_an_unknown_rule_is_a_clear_error(
    stored: Path, db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rules", "suggest", "deepsek", "--config", str(stored), "--db", str(db_path)])
    database_proxy.initialize(db)
    err = capsys.readouterr().err
    assert code == 2
    assert "no rule named 'deepsek' (did you mean 'deepseek'?); rules: deepseek" in err
    assert "Traceback" not in err
