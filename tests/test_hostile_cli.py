"""Every CLI command that prints an event or an error, run in a child on a real pseudo-terminal.

One database is seeded once for the module: per corpus string an alert (title, matched reasons,
a dead delivery whose last error and attempt message are the string) and a failing source whose
error is the string, plus a 1 MB title and an alert that went to no one. One child process runs
every command (`mrt trace`, `mrt rules test`, `mrt outbox`, `mrt sources`, `mrt replay
--dry-run`, text and --json) with
its stdout and stderr on a pty; the tests read what the terminal received.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import CORPUS, STORABLE, assert_inert, seed_hostile_database

NAMES = list(STORABLE)
DRIVER = """
import json, sys
from mrt.cli import main
for label, argv in json.loads(sys.argv[1]):
    print(f"\\n=== {label}", flush=True)
    code = main(argv)
    sys.stdout.flush(); sys.stderr.flush()
    print(f"=== exit {code}", flush=True)
"""


def run_on_pty(commands: list[tuple[str, list[str]]]) -> str:
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "TERM": "xterm-256color"}
    child = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(commands)],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=Path(__file__).parent.parent,
    )
    os.close(slave)
    received = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end of the pty
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
        child.wait(timeout=60)
    # The terminal's line discipline turns "\n" into "\r\n"; any other "\r" came from the text.
    return received.decode("utf-8", errors="strict").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("hostile-cli")
    db_path = tmp / "mrt.sqlite3"
    ids = seed_hostile_database(db_path)
    config = tmp / "mrt.toml"
    config.write_text(
        f'watch_keywords = ["deepseek"]\n[state]\nsqlite_path = "{db_path}"\n'
        '[channels.welink]\nurls = ["json://127.0.0.1/hook"]\n',
        encoding="utf-8",
    )
    common = ["--config", str(config)]
    commands: list[tuple[str, list[str]]] = []
    for name, alert_id in ids.items():
        commands.append((f"trace {name}", ["trace", f"#{alert_id}", *common]))
        commands.append((f"trace-json {name}", ["trace", f"#{alert_id}", "--json", *common]))
    for label, extra in (("rules", []), ("rules-json", ["--json"])):
        commands.append(
            (label, ["rules", "test", *common, "--since", "2000-01-01", "--samples", "100", *extra])
        )
    for label, extra in (("outbox", []), ("outbox-json", ["--json"])):
        commands.append((label, ["outbox", *common, "--limit", "500", *extra]))
    for label, extra in (("sources", []), ("sources-json", ["--json"])):
        commands.append((label, ["sources", *common, *extra]))
    for label, extra in (("replay", []), ("replay-json", ["--json"])):
        replay = ["replay", *common, "--since", "2000-01-01", "--resend", "--dry-run"]
        commands.append((label, [*replay, *extra]))
    received = run_on_pty(commands)
    parts = received.split("\n=== ")[1:]
    out: dict[str, str] = {}
    for part in parts:
        label, _, body = part.partition("\n")
        if label.startswith("exit "):
            continue
        out[label] = body
    out["_all"] = received
    yield out


def test_every_command_ran_and_succeeded(screens: dict[str, str]) -> None:
    received = screens["_all"]
    assert "Traceback" not in received
    codes = [line for line in received.split("\n") if line.startswith("=== exit ")]
    assert len(codes) == 2 * (len(NAMES) + 2) + 8
    # `mrt outbox` (table and --json) lists the scene's dead letters: exit 4, "something needs
    # you" (README, Exit codes); every other command 0.
    assert codes.count("=== exit 4") == 2, received[-2000:]
    assert set(codes) == {"=== exit 0", "=== exit 4"}, received[-2000:]


def test_the_whole_terminal_stream_is_inert(screens: dict[str, str]) -> None:
    assert_inert(screens["_all"])


@pytest.mark.parametrize("name", NAMES)
def test_trace_shows_each_hostile_alert_inert(screens: dict[str, str], name: str) -> None:
    text, as_json = screens[f"trace {name}"], screens[f"trace-json {name}"]
    assert_inert(text)
    assert_inert(as_json)
    assert "\x1b" not in text and "\x1b" not in as_json
    assert "outbox #" in text and "dead" in text


def test_trace_json_keeps_every_character_for_scripts(screens: dict[str, str]) -> None:
    body = screens["trace-json bidi_rlo"].rsplit("\n=== exit", 1)[0]
    data = json.loads(body)
    assert data["alerts"][0]["title"] == "deepseek " + CORPUS["bidi_rlo"]


@pytest.mark.parametrize("label", ["rules", "rules-json", "outbox", "outbox-json", "sources",
                                   "sources-json", "replay", "replay-json"])
def test_list_commands_show_the_corpus_inert(screens: dict[str, str], label: str) -> None:
    assert_inert(screens[label])


def test_rules_test_never_prints_a_megabyte_title(screens: dict[str, str]) -> None:
    # `trace --json` is for scripts: it keeps the whole stored value (escaped)
    for label in ("rules", "rules-json", "trace mb_title", "outbox", "replay"):
        assert len(screens[label]) < 100_000, label
    assert "deepseek DeepSeek xxxx" in screens["rules"]
    assert "events would be sent" in screens["replay"] and "deepseek DeepSeek xxx" in screens["replay"]


def test_trace_says_an_alert_went_to_no_one(screens: dict[str, str]) -> None:
    text = screens["trace nowhere"]
    assert "NO DELIVERY" in text and "not configured: gone" in text
    assert '"undelivered": "this alert went to no one' in screens["trace-json nowhere"]
    ids = [line for line in screens["outbox"].split("\n") if "went to no one" in line]
    assert len(ids) == 1 and ids[0].startswith("1 alert went to no one")
    assert '"undelivered_alerts": {' in screens["outbox-json"]
