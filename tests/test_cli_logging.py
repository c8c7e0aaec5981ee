"""`--log-format` and `--log-level` are taken by every `mrt` command and acted on by each, not
only by `mrt run`: logs go to stderr in that format, what the command prints stays on stdout."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee
import pytest
from tui_seed import add_source

from mrt.cli import build_parser, main
from mrt.store.models import Silence

KEY = "github:vllm-project/vllm"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The command configures the root logger of this process: give it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON, or this fails


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[str, ...]
]:
    """Every command line that runs something: `mrt outbox` lists, `mrt outbox retry` retries."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if prefix and parser.get_default("func") is not None:
                yield prefix
            for name, sub in action.choices.items():
                yield from leaf_commands(sub, (*prefix, name))
            return
    yield prefix


USAGE_ONLY = {("rules",)}  # `mrt rules` alone prints its usage: it runs nothing
LEAVES = sorted(set(leaf_commands(build_parser())) - USAGE_ONLY)


def test_the_leaves_are_every_command() -> None:
    assert {"check", "run", "trace", "replay"} <= {leaf[0] for leaf in LEAVES}
    assert ("cursor", "reset") in LEAVES and ("db", "migrate") in LEAVES
    assert ("outbox", "retry") in LEAVES and ("silence", "add") in LEAVES
    assert ("outbox",) in LEAVES and ("sources",) in LEAVES


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_every_command_takes_both_options(command: tuple[str, ...]) -> None:
    parser = build_parser()
    sub = parser
    for name in command:  # the command's own parser: its --help lists what it takes
        action = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
        sub = action.choices[name]
    options = {o for a in sub._actions for o in a.option_strings}
    assert {"--log-format", "--log-level"} <= options


def test_mrt_cursor_reset_logs_json_lines_at_the_level_asked(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(KEY)
    argv = ["cursor", "reset", KEY, "--to", "2026-11-01", "--yes", "--db", str(db_path),
            "--backup-dir", str(tmp_path / "bk"), "--log-format", "json", "--log-level", "info"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert f"{KEY}: the cursor is reset." in out and not out.lstrip().startswith("{")
    (line,) = [r for r in json_lines(err) if r["logger"] == "mrt.ops.cursor"]
    assert line["level"] == "info" and line["source_key"] == KEY
    assert line["msg"].startswith("cursor reset by cli to 2026-11-01T00:00:00Z (backup: ")


def test_the_info_line_is_not_shown_at_the_default_level(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(KEY)
    argv = ["cursor", "reset", KEY, "--to", "baseline", "--yes", "--db", str(db_path),
            "--backup-dir", str(tmp_path / "bk"), "--log-format", "json"]
    assert main(argv) == 0
    assert json_lines(capsys.readouterr().err) == []


def test_mrt_replay_logs_its_warning_as_a_json_line(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a silence stored by an older MRT whose matcher this rules engine cannot compile
    Silence.create(matcher={"regex": "(?=lookahead)"}, created_at=datetime(2026, 1, 1, tzinfo=UTC),
                   expires_at=datetime(2099, 1, 1, tzinfo=UTC), created_by="cli")
    config = tmp_path / "mrt.json"
    config.write_text(json.dumps({"version": 1, "state": {"sqlite_path": str(db_path)}}))
    argv = ["replay", "--since", "7d", "--dry-run", "--config", str(config), "--log-format", "json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    (line,) = json_lines(err)
    assert line["level"] == "warning" and line["logger"] == "mrt.rules.silences"
    assert line["msg"].startswith("silence #1 is skipped, its matcher no longer compiles")
    assert "silence #1" not in out


def test_a_command_scrubs_the_configs_secrets_from_its_log_lines(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the worker does: any line, whoever logs it, shows no value of a variable the config
    names (here an operator pasted the webhook key into a silence's pattern)."""
    key = "s3cr3t-HOOK-key-0451"
    monkeypatch.setenv("HOOK_KEY", key)
    Silence.create(matcher={"regex": f"(?={key})"}, created_at=datetime(2026, 1, 1, tzinfo=UTC),
                   expires_at=datetime(2099, 1, 1, tzinfo=UTC), created_by="cli")
    config = tmp_path / "mrt.json"
    config.write_text(json.dumps({
        "version": 1, "state": {"sqlite_path": str(db_path)},
        "channels": {"team": {"urls": ["json://127.0.0.1:9/hook?+X-Key=${HOOK_KEY}"]}},
    }))
    argv = ["replay", "--since", "7d", "--dry-run", "--config", str(config), "--log-format", "json"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    (line,) = json_lines(err)
    assert "(?=***)" in line["msg"] and key not in err
