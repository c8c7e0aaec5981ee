"""One send timeout: `delivery.send_timeout_seconds`, applied once, by the sender.

The far side here is a loopback webhook that accepts the POST and then trickles its answer one
byte at a time without ever finishing it: no socket read timeout ever trips, so only a wait
around the whole send can cut it. It must be cut at the configured timeout (not at some larger
grace the layers below add) and recorded as a retryable Timeout attempt.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Iterator

import peewee
import pytest
from test_outbox_support import T0, config, enqueue_alerts

from mrt.delivery import channels
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.sender import Sender
from mrt.store.models import DeliveryAttempt, Outbox

TIMEOUT = 0.6


@pytest.fixture
def trickling_webhook() -> Iterator[int]:
    """Reads the request, then sends a never-ending status line a byte every 0.1 s."""
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10_000:
                if stop.wait(0.1):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


async def real_send(target: Target, message: Message, timeout: float) -> SendOutcome:
    return await channels.send(target, message, timeout=timeout)


def test_a_hanging_webhook_is_cut_at_the_configured_timeout(
    db: peewee.Database, trickling_webhook: int
) -> None:
    target = Target(
        channel="team", key="json://127.0.0.1/hook", kind="json",
        url=f"json://127.0.0.1:{trickling_webhook}/hook",
    )
    [row_id] = enqueue_alerts(T0, [target])
    sender = Sender(
        config(send_timeout_seconds=TIMEOUT, min_interval_seconds=0),
        {"team": [target]}, real_send, owner="test-sender", rng=random.Random(1),
    )

    report = asyncio.run(sender.run_once(T0))

    assert report.retrying == 1
    (attempt,) = DeliveryAttempt.select()
    assert (attempt.outcome, attempt.error_class) == ("retry", "Timeout")
    assert attempt.message == f"no answer within {TIMEOUT:g} s"
    # cut at the timeout, not at a grace the layers below used to add (1 s and more)
    assert TIMEOUT * 1000 <= attempt.duration_ms < TIMEOUT * 1000 + 500
    assert Outbox.get_by_id(row_id).status == "retrying"
