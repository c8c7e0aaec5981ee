"""A fast loopback webhook sink for the benchmarks, run as its own process.

    python tests/bench/sink.py [--port 0]     prints "PORT <n>" on stdout, then serves

Every POST is answered 200 `{"code": "0"}` (what a WeLink-style robot says to a message it
took; a JSON webhook's sender reads the status only) and counted, with its arrival time
(time.time(), comparable across processes) and the first 4,000 bytes of its body (a folded
message lists many alerts). `GET /_stats` -> {"count": n};
`GET /_arrivals` -> [[t, path, body], ...]; `POST /_reset` forgets everything. Plain asyncio,
HTTP/1.1 keep-alive: the sink must never be what limits a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.arrivals: list[tuple[float, str, str]] = []

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.split(b"\r\n")
                method, path, _ = lines[0].decode("latin-1").split(" ", 2)
                length, close = 0, lines[0].endswith(b"HTTP/1.0")
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = value.strip().lower() == b"close"
                body = await reader.readexactly(length) if length else b""
                answer = self.answer(method, path, body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n".encode()
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                    + answer
                )
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()

    def answer(self, method: str, path: str, body: bytes) -> bytes:
        if path == "/_stats":
            return json.dumps({"count": self.count}).encode()
        if path == "/_arrivals":
            return json.dumps(self.arrivals).encode()
        if path == "/_reset":
            self.count, self.arrivals = 0, []
            return b"{}"
        self.count += 1
        self.arrivals.append((time.time(), path, body[:4000].decode("utf-8", "replace")))
        return b'{"code":"0","message":"ok"}'


async def main(port: int) -> None:
    sink = Sink()
    server = await asyncio.start_server(sink.serve_connection, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    try:
        asyncio.run(main(parser.parse_args().port))
    except KeyboardInterrupt:
        sys.exit(0)
