"""A whole request has a deadline: an upstream that trickles its body a byte at a time (each
read well inside httpx's per-read timeout) cannot keep a cycle busy for minutes (issue 19)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from test_http_faults import fetch
from test_source_support import FakeClock

from mrt.errors import SourceError

DEADLINE = 0.4  # seconds: the source's timeout_seconds
DRIP = 0.1  # one byte every DRIP seconds: each read is fast, the whole body is not


@contextlib.contextmanager
def trickling_server(body: bytes = b"[" + b" " * 200 + b"]") -> Iterator[str]:
    """Answers 200 with headers at once, then the body one byte every DRIP seconds; a client
    that hangs up ends its connection's thread at the next byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            for byte in body:
                if stop.wait(DRIP):
                    break
                conn.sendall(bytes([byte]))

    threads: list[threading.Thread] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=drip, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join()
        for thread in threads:
            thread.join()
        listener.close()


def test_a_trickled_body_hits_the_deadline_and_is_retried_like_a_timeout() -> None:
    clock = FakeClock()
    started = time.monotonic()
    with trickling_server() as base, pytest.raises(SourceError) as caught:
        fetch(base, clock, spec_kw={"timeout_seconds": DEADLINE}, pool_kw={"max_attempts": 2})
    elapsed = time.monotonic() - started
    error = caught.value
    # two attempts of DEADLINE each, not 200 bytes x DRIP = 20 s per attempt
    assert elapsed < 2 * DEADLINE + 1.5, elapsed
    assert error.context["kind"] == "timeout" and error.context["attempts"] == 2
    assert clock.sleeps == [0.5]  # the backoff between the attempts, as for a timeout
    host = base.removeprefix("http://")
    assert str(error).startswith(f"{host}: no complete answer within the 0.4-second deadline")
    assert "timeout_seconds" in str(error)


def test_a_body_that_arrives_inside_the_deadline_is_read() -> None:
    with trickling_server(body=b"[]") as base:
        response, client = fetch(base, FakeClock(), spec_kw={"timeout_seconds": DEADLINE * 3})
    assert response.json == [] and client.retries == 0
