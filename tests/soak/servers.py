"""A threaded loopback HTTP server whose handlers can misbehave at the socket level.

pytest-httpserver (werkzeug) cannot reset a connection or leave it without an answer, so the
harness serves with the standard library and hands requests to werkzeug-style handlers: the
`expect_request(path).respond_with_handler(fn)` / `url_for(path)` surface is what
`FakeGitHub` in tests/test_source_support.py calls, so that fake is reused unchanged.
"""

from __future__ import annotations

import io
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from werkzeug import Request, Response
from werkzeug.test import EnvironBuilder

Handler = Callable[[Request], Response]


class Reset(Exception):
    """Raised by a handler: drop the connection with a TCP RST, no answer."""


@dataclass
class FaultPlan:
    """Faults drawn per request from a seeded RNG: {kind: probability}; the rest is served."""

    rates: Mapping[str, float]
    seed: int
    enabled: bool = True
    served: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        if sum(self.rates.values()) > 1.0:
            raise ValueError(f"fault rates add up to more than 1: {dict(self.rates)}")

    def draw(self) -> str:
        with self._lock:
            kind = "ok"
            if self.enabled:
                roll, edge = self._rng.random(), 0.0
                for name, rate in self.rates.items():
                    edge += rate
                    if roll < edge:
                        kind = name
                        break
            self.served[kind] += 1
            return kind

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    def choice(self, options: list[int]) -> int:
        with self._lock:
            return self._rng.choice(options)


class _Expectation:
    def __init__(self, routes: dict[str, Handler], path: str) -> None:
        self._routes, self._path = routes, path

    def respond_with_handler(self, handler: Handler) -> None:
        self._routes[self._path] = handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a SIGKILLed worker resets its keep-alive connections: expected, thousands of times
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    """`with LoopbackServer() as server:` serves registered paths on 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests = 0
        self._http = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect_request(self, path: str) -> _Expectation:
        return _Expectation(self.routes, path)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _reset = False

        def log_message(self, format: str, *args: object) -> None:
            pass  # thousands of requests: the counters tell the story

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            server.requests += 1
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            builder = EnvironBuilder(
                method=self.command, path=parts.path, query_string=parts.query,
                headers=list(self.headers.items()), data=body,
            )
            request = Request(builder.get_environ())
            handler = server.routes.get(parts.path)
            try:
                response = handler(request) if handler else Response("not found", status=404)
            except Reset:
                self._abort()
                return
            data = response.get_data()
            try:
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                self.close_connection = True  # the client gave up (a stall past its timeout)

        def _abort(self) -> None:
            """Close with SO_LINGER 0: the kernel answers with RST instead of FIN."""
            self._reset = True
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # the file objects hold the socket open; close them all so the RST goes out now,
            # and leave a harmless buffer for the base class's final flush
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
            self.wfile = io.BytesIO()

        def finish(self) -> None:
            if not self._reset:
                super().finish()

    return _Handler


def stall(seconds: float) -> None:
    """A fake upstream that does not answer in time (the harness waits; the product never)."""
    time.sleep(seconds)
