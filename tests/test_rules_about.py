"""`about:` rules end to end at the user's level: a config file with a described topic, stored
events, `mrt rules test` showing each hit's score and each near miss's, and `mrt check` saying
which mode `about:` runs in (lexical: no model is asked, AI on or off)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from test_rules_dryrun import store_event

from mrt.cli import main
from mrt.events import utcnow

TOPIC = "new model weights from DeepSeek or Qwen"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps({
        "channels": {"team": {"urls": ["json://127.0.0.1/team"]}},
        "rules": [{"name": "models", "when": {"about": {"topic": TOPIC, "threshold": 0.5}},
                   "notify": ["team"]}],
    }), encoding="utf-8")
    return path


def test_rules_test_shows_the_score_of_hits_and_near_misses(
    db: peewee.Database, db_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = utcnow() - timedelta(days=1)
    store_event("DeepSeek-V4 weights and Qwen3 model cards", decision="none", observed_at=day)
    store_event("Qwen3 tokenizer crash", decision="none", observed_at=day)
    store_event("Fix the docs build", decision="none", observed_at=day)

    assert main(["rules", "test", "--config", str(config_file), "--db", str(db_path),
                 "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    hits = {h["rule"]: h for h in report["rules"]}
    [hit] = hits["models"]["samples"]
    assert hit["title"] == "DeepSeek-V4 weights and Qwen3 model cards"
    assert hit["reasons"] == [f"about '{TOPIC}': lexical similarity 1.00 >= 0.50 "
                              "(model, weight, deepseek, qwen)"]
    misses = {s["title"]: s["reasons"] for s in hits["(no rule)"]["samples"]}
    assert misses == {
        "Qwen3 tokenizer crash": [f"models: about '{TOPIC}': lexical similarity 0.33 < 0.50; "
                                  "lacks model, weight, deepseek"],
        "Fix the docs build": [f"models: about '{TOPIC}': lexical similarity 0.00 < 0.50; "
                               "lacks model, weight, deepseek, qwen"],
    }


def test_check_says_about_rules_run_lexically(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    assert main(["check", "--config", str(config_file)]) == 0

    out = capsys.readouterr().out
    assert ("ok    rules: about: 1 condition(s), lexical mode (word overlap with the topic; no "
            "model is asked)") in out
