"""The installed `mrt-tui` on a real pseudo-terminal over the hostile database: every byte the
terminal receives is checked for what the corpus carries (an OSC window title, an OSC 8 link, a
DCS string, 8-bit CSI and NEL, NUL, bidi overrides, line separators).

The console's own escape sequences (cursor moves, colours, synchronized output) are fine; the
corpus's payloads must never arrive as sequences or raw characters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.bench.terminal import Terminal
from tests.hostile import seed_hostile_database

ROOT = Path(__file__).resolve().parents[1]
LONG = 60.0  # seconds: only reached when something is broken
FORBIDDEN = {
    "OSC window title": b"\x1b]0;pwned",
    "OSC title (ST)": b"\x1b]2;pwned",
    "OSC 8 link": b"\x1b]8;;https://evil",
    "DCS string": b"\x1bPq",
    "8-bit CSI": "\u009b".encode(),
    "8-bit NEL": "\u0085".encode(),
    "NUL": b"\x00",
    "backspace": b"\x08",
    "right-to-left override": "\u202e".encode(),
    "bidi isolate": "\u2066".encode(),
    "line separator": "\u2028".encode(),
    "zero-width space": "\u200b".encode(),
    "BOM": "\ufeff".encode(),
}


class RecordingTerminal(Terminal):
    """The benchmarks' terminal, keeping every byte it received."""

    def _feed(self, data: bytes, at: float) -> None:
        if not hasattr(self, "raw"):
            self.raw = bytearray()
        self.raw += data
        super()._feed(data, at)


@pytest.fixture(scope="module")
def received(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("hostile-terminal") / "mrt.sqlite3"
    seed_hostile_database(path)
    tool = Path(sys.executable).with_name("mrt-tui")
    with RecordingTerminal.spawn([str(tool), "--db", str(path)], columns=160, lines=50,
                                 cwd=ROOT) as term:
        term.wait_for_frame("went to no one", LONG)
        for _ in range(12):  # the detail pane of the alerts below it (the corpus's newest)
            term.press(b"\x1b[B")
        term.settle(quiet=0.5, timeout=LONG)
        term.press(b"/")
        term.wait_for("Filter", LONG)
        term.press(b"[/INST]\r")
        term.wait_for("[/INST]", LONG)
        term.settle(quiet=0.5, timeout=LONG)
        term.press(b"\x1b")  # clear the filter
        term.press(b"2")  # Deliveries: every corpus string is a dead letter's last error
        term.wait_for("dead", LONG)
        for _ in range(12):
            term.press(b"\x1b[B")
        term.press(b"3")  # Sources: every corpus string is a failing source's error
        term.wait_for("hostile/", LONG)
        for _ in range(12):
            term.press(b"\x1b[B")
        term.settle(quiet=0.5, timeout=LONG)
        assert term.process.poll() is None, "the console exited"
        return bytes(term.raw)


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_the_terminal_never_receives_the_corpus_payloads(received: bytes, name: str) -> None:
    assert FORBIDDEN[name] not in received


def test_the_terminal_showed_the_corpus_as_text(received: bytes) -> None:
    assert b"MarkupError" not in received and b"Traceback" not in received
    assert b"[/INST]" in received  # the filter as typed
    assert b"visible" in received and b"hostile/" in received
