"""The benchmarks' pseudo-terminal (tests/bench/terminal.py) against a scripted program: text
split across reads and styles is found, Textual's synchronized-output query is answered, a key's
response and its frames are counted. No timing is asserted."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.bench is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from tests.bench.terminal import PAGE_DOWN, Terminal, screen_text  # noqa: E402

# Each step waits for a byte from the terminal, so the splits below happen on every machine.
SCRIPT = r"""
import os, tty
tty.setraw(0)
def say(data): os.write(1, data)
def wait(): return os.read(0, 64)
say(b"he"); wait()
say(b"l\x1b[1mlo\x1b[0m world \x1b["); wait()
say(b"?2026$p")
say(b"reply ok " if wait() == b"\x1b[?2026;2$y" else b"reply wrong ")
key = wait()
say(b"\x1b[?2026hpressed " + key[1:] + b"\x1b[?2026l")
wait()
"""
LONG = 60.0  # seconds: only reached when something is broken


@pytest.fixture
def term() -> Iterator[Terminal]:
    with Terminal.spawn([sys.executable, "-c", SCRIPT], columns=80, lines=24) as terminal:
        yield terminal


def test_finds_text_split_across_reads_and_styles(term: Terminal) -> None:
    term.wait_for("he", LONG)
    os.write(term.master, b".")  # the script goes on once "he" has been read
    term.wait_for("llo world", LONG)


def test_answers_the_sync_query_even_cut_in_two_and_times_a_key(term: Terminal) -> None:
    term.wait_for("he", LONG)
    os.write(term.master, b".")
    term.wait_for("world", LONG)  # the query's first half, "ESC [", is read here
    os.write(term.master, b".")
    term.wait_for("reply ok", LONG)
    response = term.press(PAGE_DOWN, timeout=LONG)
    assert response.frames == 1 and response.size > 0 and response.latency > 0
    assert response.first_frame is not None and 0 < response.first_frame <= response.latency
    assert term.wait_for_frame("pressed [6~", LONG) > term.started


def test_a_timeout_says_what_the_screen_showed(term: Terminal) -> None:
    term.wait_for("he", LONG)
    with pytest.raises(TimeoutError, match=r"'never'.*he"):
        term.wait_for("never", 0.01)


def test_close_ends_the_program(term: Terminal) -> None:
    term.close()
    assert term.process.returncode is not None
    term.close()  # twice is harmless


def test_screen_text_drops_escape_sequences() -> None:
    assert screen_text(b"\x1b[2J\x1b[1;1H\x1b[1mbold\x1b[0m  \x1b]0;title\x07text\xff") == (
        "bold text\ufffd"
    )
