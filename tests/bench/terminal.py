"""A pseudo-terminal for benchmarks: run a program as an operator's terminal would, type keys
into it and time what it writes back.

    with Terminal.spawn(["mrt-tui", "--db", path], columns=120, lines=40) as term:
        shown = term.wait_for_frame("newest alert title", timeout=60) - term.started
        term.settle(quiet=0.3)
        response = term.press(PAGE_DOWN)  # response.latency: seconds to its last byte

The terminal answers Textual's synchronized-output query (`CSI ? 2026 $ p`) as a modern
terminal emulator does, so every frame is wrapped in `CSI ? 2026 h` ... `CSI ? 2026 l`: a
frame's end is when such a terminal draws it, and frames can be counted. Text is searched with
the colour and style sequences (SGR) removed, so a needle may span a change of style; any other
escape sequence (a cursor move) still separates text. Linux and macOS (pty, select).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

PAGE_DOWN = b"\x1b[6~"
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"  # "supported, currently off": the program may turn it on
FRAME_START = b"\x1b[?2026h"
FRAME_END = b"\x1b[?2026l"

READ_SIZE = 1 << 16
KEEP = 1 << 18  # bytes of text kept for searching; a needle must be shorter
SGR = re.compile(rb"\x1b\[[0-9;:]*m")
# An escape sequence cut by the end of a read: held back until the next read completes it,
# so that a query, a frame end or a style change is never seen in two halves.
INCOMPLETE_ESCAPE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*)?\Z")
ANY_ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")


@dataclass(frozen=True, slots=True)
class Response:
    """What one key press set off: the output until the terminal was quiet for a short gap."""

    latency: float  # seconds from writing the keys to the last byte of the response
    size: int  # bytes written by the program
    frames: int  # synchronized-output frames that ended in it
    # seconds from writing the keys to the end of the first frame: when a terminal draws the
    # program's first answer to them (None: no synchronized frame in the response)
    first_frame: float | None = None


class Terminal:
    """One program on a pseudo-terminal of a fixed size. Use `spawn`, and close it (or `with`)."""

    def __init__(self, process: subprocess.Popen[bytes], master: int, started: float) -> None:
        self.process = process
        self.master = master
        self.started = started  # perf_counter() just before the program was started
        self.received = 0  # bytes read so far
        self.frames = 0  # synchronized-output frames ended so far
        self._partial = b""  # an escape sequence the next read completes
        self._text = bytearray()  # output without SGR sequences, the last KEEP..2*KEEP bytes
        self._base = 0  # position in the whole output of self._text[0]
        self._searched = 0  # wait_for looks from here on: what it matched is consumed
        self._reads: deque[tuple[int, float]] = deque(maxlen=4096)  # (text end, time read)
        self._closed = False

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        columns: int = 120,
        lines: int = 40,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Terminal:
        """Start `argv` in its own session with a pty of `columns` x `lines` as its terminal."""
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
            started = time.perf_counter()
            process = subprocess.Popen(
                list(argv),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=terminal_environment(env),
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # the child holds its own copy; EOF on the master means it exited
        return cls(process, master, started)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------ reading

    def read(self, timeout: float) -> float | None:
        """Read what the program wrote within `timeout` seconds; the time it was read, or None."""
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0.0))
        if not ready:
            return None
        try:
            data = os.read(self.master, READ_SIZE)
        except OSError:  # EIO on Linux: every copy of the pty's other end is closed
            data = b""
        at = time.perf_counter()
        if not data:
            self.process.wait()
            raise RuntimeError(self.explain(f"the program exited ({self.process.returncode})"))
        self._feed(data, at)
        return at

    def _feed(self, data: bytes, at: float) -> None:
        self.received += len(data)
        chunk = self._partial + data
        cut = INCOMPLETE_ESCAPE.search(chunk, max(0, len(chunk) - 256))
        self._partial = chunk[cut.start() :] if cut else b""
        if cut:
            chunk = chunk[: cut.start()]
        queries = chunk.count(SYNC_QUERY)
        if queries:
            os.write(self.master, SYNC_REPLY * queries)
        self.frames += chunk.count(FRAME_END)
        self._text += SGR.sub(b"", chunk)
        self._reads.append((self._base + len(self._text), at))
        if len(self._text) > 2 * KEEP:  # bounded: drop the oldest text, positions stay valid
            drop = len(self._text) - KEEP
            del self._text[:drop]
            self._base += drop
            self._searched = max(self._searched, self._base)

    def _read_time(self, end: int) -> float:
        """When the read that brought in the output up to position `end` happened."""
        return next(at for read_end, at in self._reads if read_end >= end)

    def wait_for(self, text: str | bytes, timeout: float) -> float:
        """Wait until `text` has been written (after what earlier calls matched); the time of
        the read that brought in its last byte. Raises TimeoutError after `timeout` seconds."""
        needle = text.encode() if isinstance(text, str) else text
        if not 0 < len(needle) < KEEP:
            raise ValueError(f"a needle must be 1 to {KEEP - 1} bytes long")
        deadline = time.perf_counter() + timeout
        while True:
            found = self._text.find(needle, self._searched - self._base)
            if found >= 0:
                end = self._base + found + len(needle)
                self._searched = end
                return self._read_time(end)
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(self.explain(f"{text!r} did not appear in {timeout:g} s"))
            self.read(left)

    def wait_for_frame(self, text: str | bytes, timeout: float) -> float:
        """Like `wait_for`, but until the frame that carries `text` has ended: a terminal that
        supports synchronized output draws the frame then. Outside a synchronized frame (the
        program has not turned them on yet), the time of the text itself."""
        deadline = time.perf_counter() + timeout
        shown = self.wait_for(text, timeout)
        before = self._text[: self._searched - self._base]
        if before.rfind(FRAME_START) <= before.rfind(FRAME_END):
            return shown
        return self.wait_for(FRAME_END, max(deadline - time.perf_counter(), 0.001))

    def settle(self, quiet: float = 0.3, timeout: float = 60.0) -> None:
        """Wait until the program has written nothing for `quiet` seconds."""
        deadline = time.perf_counter() + timeout
        while self.read(quiet) is not None:
            if time.perf_counter() > deadline:
                raise TimeoutError(self.explain(f"never quiet for {quiet:g} s in {timeout:g} s"))

    # ------------------------------------------------------------------------------ typing

    def press(self, keys: bytes, *, quiet: float = 0.04, timeout: float = 60.0) -> Response:
        """Write `keys` and read the response: everything written until a gap of `quiet`
        seconds. Later output (a debounced pane, a timer) belongs to no press."""
        while self.read(0) is not None:  # output from before the press is not its response
            pass
        size, frames = self.received, self.frames
        started = time.perf_counter()
        os.write(self.master, keys)
        last = self.read(timeout)
        if last is None:
            raise TimeoutError(self.explain(f"no response to {keys!r} in {timeout:g} s"))
        first = last if self.frames > frames else None
        while (at := self.read(quiet)) is not None:
            last = at
            if first is None and self.frames > frames:
                first = at
        return Response(
            last - started,
            self.received - size,
            self.frames - frames,
            None if first is None else first - started,
        )

    # ------------------------------------------------------------------------------ ending

    def close(self, grace: float = 5.0) -> None:
        """Terminate the program (kill it if it has not exited after `grace` seconds)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.process.poll() is None:
                self.process.terminate()
                self._drain_until_exit(grace)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        finally:
            os.close(self.master)

    def _drain_until_exit(self, grace: float) -> None:
        # Keep reading: a program blocked on a full pty would not get to exit.
        deadline = time.perf_counter() + grace
        while self.process.poll() is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    os.read(self.master, READ_SIZE)
                except OSError:
                    break
        with contextlib.suppress(subprocess.TimeoutExpired):  # close() kills it then
            self.process.wait(max(deadline - time.perf_counter(), 0.0))

    def explain(self, message: str, chars: int = 1500) -> str:
        """`message` with the end of what the program wrote, as readable text."""
        tail = screen_text(bytes(self._text[-4 * chars :]))[-chars:]
        return f"{message}; the terminal's last output: {tail!r}"


def terminal_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment as a 256-colour xterm's: COLUMNS and LINES would override
    the pty's size."""
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env.update(extra or {})
    return env


def screen_text(output: bytes) -> str:
    """Output as plain text: escape sequences removed, runs of blanks shortened."""
    text = ANY_ESCAPE.sub(b" ", output).decode(errors="replace")
    return re.sub(r"\s+", " ", text).strip()
