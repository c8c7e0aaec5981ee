"""`--json` on every command that reports: one JSON document on stdout, the keys docs/JSON.md
shows (tests/cli_json_cases.py lists the commands and the seeded database they run on)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import peewee
import pytest
from cli_json_cases import CASES, HOSTILE_TITLE, argv_of, env_of, seed

from mrt.cli import main
from mrt.store.models import database_proxy

DOC = Path(__file__).resolve().parent.parent / "docs" / "JSON.md"


def documented() -> dict[str, Any]:
    """Heading (`mrt db check`, or "Errors") -> the example under it, parsed."""
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, Any] = {}
    for m in re.finditer(r"^### (?:`(?P<cmd>mrt [^`]+)`|(?P<errors>Errors))\n(?P<body>.*?)(?=^### |\Z)",
                         text, re.M | re.S):
        block = re.search(r"```json\n(.*?)\n```", m["body"], re.S)
        assert block, f"docs/JSON.md: no json example under {m[0].splitlines()[0]}"
        found[m["cmd"] or "error"] = json.loads(block[1])
    return found


def same_shape(doc: Any, actual: Any, where: str) -> None:
    """The top level's keys, and the keys of a top-level list's items, are the documented ones."""
    assert type(actual) is type(doc), f"{where}: a {type(actual).__name__}, the doc shows a {type(doc).__name__}"
    if isinstance(doc, list):
        if doc and actual:
            same_shape(doc[0], actual[0], f"{where}[0]")
        return
    if not isinstance(doc, dict):
        return
    assert sorted(actual) == sorted(doc), f"{where}: keys differ from docs/JSON.md"
    for key, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], dict) and actual[key]:
            assert sorted(actual[key][0]) == sorted(value[0]), f"{where}.{key}[0]: keys differ"


def test_the_doc_covers_every_case_and_nothing_else() -> None:
    assert sorted(documented()) == sorted(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_command_prints_its_documented_json(
    name: str, db: peewee.Database, db_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    values = seed(tmp_path, db_path)
    for key, value in env_of(case, values).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - no terminal to ask on
    capsys.readouterr()
    code = main(argv_of(case, values))
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    out, err = capsys.readouterr()
    assert code == case.exit, f"`mrt {' '.join(argv_of(case, values))}` exited {code}: {out}{err}"
    assert err == "", err  # stdout alone carries the answer, errors included
    data = json.loads(out)  # exactly one document: json.loads refuses trailing text
    same_shape(documented()[name], data, name)


def test_upstream_text_is_escaped_for_the_terminal_and_comes_back_whole(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    values = seed(tmp_path, db_path)
    capsys.readouterr()
    assert main(["sources", "quarantined", "--config", values["config"], "--json"]) == 0
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert "\u009b" not in out and "\u202e" not in out  # nothing a terminal would act on
    assert "\\u009b" in out and "\\u202e" in out
    [item] = json.loads(out)["quarantined"]
    assert item["raw"]["title"] == HOSTILE_TITLE  # a script gets every character back


def test_an_action_that_would_ask_refuses_without_yes_and_does_nothing(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from mrt.store.models import Alert

    values = seed(tmp_path, db_path)
    capsys.readouterr()
    code = main(["alerts", "ack", values["alert"], "--config", values["config"], "--json"])
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert code == 1
    assert json.loads(out)["error"]["message"].startswith("--json needs --yes")
    assert Alert.get_by_id(int(values["alert"])).acknowledged_at is None


def test_usage_and_config_errors_are_documents_with_their_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[sources.github]\nrepos = "not-a-list"\n', encoding="utf-8")
    assert main(["check", "--config", str(bad), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["exit_code"] == 2 and error["file"] == str(bad)
    assert "sources.github.repos" in error["message"]

    assert main(["outbox", "retry", "--db", str(tmp_path / "x.sqlite3"), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error == {"title": "Usage error", "exit_code": 2,
                     "message": "give delivery ids, or --all-dead (not both)"}


def test_the_installed_entry_point_speaks_json_on_a_real_database(
    db: peewee.Database, db_path: Path, tmp_path: Path,
) -> None:
    """`python -m mrt` (what the `mrt` script runs), a separate process on the seeded file."""
    seed(tmp_path, db_path)
    db.close()
    ok = subprocess.run([sys.executable, "-m", "mrt", "db", "check", "--db", str(db_path), "--json"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    missing = subprocess.run(
        [sys.executable, "-m", "mrt", "trace", "999999", "--db", str(db_path), "--json"],
        capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and missing.stderr == ""
    assert json.loads(missing.stdout)["error"]["exit_code"] == 1


# Leaves that run nothing worth a document: they take no --json (docs/JSON.md says why).
NO_JSON = {
    ("alerts",): "prints its usage",
    ("silence",): "prints its usage",
    ("notify",): "prints its usage",
    ("run",): "becomes the worker process",
    ("completion",): "prints a shell script",
}


def test_every_command_that_reports_takes_json_and_is_documented() -> None:
    from test_cli_logging import LEAVES

    from mrt.cli import build_parser

    without, with_json = set(), set()
    for command in LEAVES:
        sub = build_parser()
        for name in command:
            action = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
            sub = action.choices[name]
        options = {o for a in sub._actions for o in a.option_strings}
        (with_json if "--json" in options else without).add(command)
    assert without == set(NO_JSON)
    assert {"mrt " + " ".join(c) for c in with_json} == set(CASES) - {"error"}
