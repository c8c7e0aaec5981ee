"""`--json` for every command: one option, one printer, one error shape (docs/JSON.md).

The rule: with `--json`, stdout carries exactly one JSON document, whatever happens. On success
it is the command's documented shape; on failure it is `{"error": {...}}` (mrt.cli prints it)
and the exit code is the one the text mode gives. Logs stay on stderr. Text a terminal would act
on is escaped (mrt.inert.terminal_json), so a script gets every character back.

A command adds the option with `add_json_option(parser)`, asks `wants_json(args)` and prints
with `emit(data)`. An action that asks before it acts needs `--yes` with `--json` (there is no
question in JSON): `refuse_question(args)` says so.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from mrt.errors import MrtError
from mrt.inert import terminal_json

JSON_HELP = "print the result as one JSON document (shapes: docs/JSON.md)"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a nested subcommand must not reset a --json given before it (`mrt outbox --json
    # retry ...`); wants_json() reads a missing attribute as False.
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def emit(data: Any) -> None:
    print(terminal_json(data, indent=2, default=_plain))


def error_document(exc: BaseException | str, *, title: str, exit_code: int) -> dict[str, Any]:
    """`{"error": {"title", "message", "exit_code"}}`; a ConfigError adds file and path."""
    body: dict[str, Any] = {"title": title, "message": str(exc), "exit_code": exit_code}
    for key in ("file", "path"):
        value = getattr(exc, key, None)
        if isinstance(value, str):
            body[key] = value
    return {"error": body}


def report_error(
    args: argparse.Namespace, line: str, *, code: int = 2, title: str = "Usage error"
) -> int:
    """An error a command finds and says itself (`mrt X: what is wrong`), in the mode asked:
    the line on stderr, or with --json the error document on stdout. Returns the exit code."""
    if wants_json(args):
        emit(error_document(line.split(": ", 1)[-1], title=title, exit_code=code))
    else:
        print(line, file=sys.stderr)
    return code


def refuse_question(args: argparse.Namespace) -> None:
    """With --json an action that would ask must be given --yes: say so before doing anything."""
    if wants_json(args) and not getattr(args, "yes", False):
        raise MrtError("--json needs --yes (there is no question in JSON); nothing was done",
                       title="Not confirmed")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
