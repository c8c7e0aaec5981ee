"""The `triage:` rule action as a user writes it: through `mrt check` and `mrt rules lint`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mrt.cli import main

CHANNELS = {"ops": {"urls": ["json://127.0.0.1:9/hook"]}}
DIGESTS = {"daily": {"cron": "0 9 * * *"}}
AI = {"enabled": True, "base_url": "http://127.0.0.1:9/v1", "model": "qwen3-8b"}


def config_file(tmp_path: Path, rule: dict[str, Any], **more: Any) -> str:
    data = {"version": 1, "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
            "channels": CHANNELS, "digests": DIGESTS, "rules": [rule], **more}
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("rule", "fragments"), [
    ({"name": "t", "notify": True, "triage": {"instant_at": 0.7}},
     ["rules[0] (t).triage", "this rule has no digest", "`digest: daily`"]),
    ({"name": "t", "digest": "daily", "triage": {}},
     ["rules[0] (t).triage", "this rule has no notify"]),
    ({"name": "t", "notify": True, "digest": "daily",
      "triage": {"instant_at": 0.3, "digest_below": 0.6}},
     ["rules[0] (t).triage", "digest_below (0.6) must not be above instant_at (0.3)"]),
    ({"name": "t", "notify": True, "digest": "daily", "triage": {"instant": 0.9}},
     ["rules[0] (t).triage", "unknown key 'instant'", "instant_at"]),
    ({"name": "t", "notify": True, "digest": "daily", "triage": {"instant_at": 1.5}},
     ["rules[0] (t).triage.instant_at", "less than or equal to 1"]),
])
def test_a_bad_triage_is_a_clear_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: dict[str, Any],
    fragments: list[str],
) -> None:
    assert main(["check", "--config", config_file(tmp_path, rule, ai=AI)]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text


RULE = {"name": "serving", "notify": True, "digest": "daily",
        "triage": {"instant_at": 0.8, "digest_below": 0.3}}


def test_lint_says_when_triage_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "lint", "--config", config_file(tmp_path, RULE)]) == 1
    out = capsys.readouterr().out
    assert "rules[0] (serving): triage: AI is off" in out and "[triage-off]" in out

    assert main(["rules", "lint", "--config", config_file(tmp_path, RULE, ai=AI)]) == 0
    assert "no findings" in capsys.readouterr().out
