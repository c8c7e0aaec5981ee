"""A JSON webhook sink (Apprise `json://`) that fails at a set rate and records what it accepts.

Each path is one delivery target (/hook/a, /hook/b). An accepted delivery is appended to a JSON
lines file, flushed and fsynced BEFORE the 200 is written, so the record is exact: a delivery
the worker saw succeed is in the file, and one the sink refused (500, 429, reset) is not. The
slow answer stays well inside the worker's send timeout, so the worker never gives up on a
delivery the sink accepted (that would be a duplicate no crash explains).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug import Request, Response

from mrt.plugins import source_plugins
from soak.servers import FaultPlan, LoopbackServer, Reset, stall
from soak.upstream import EventKey

TARGETS = ("a", "b")
# each source plugin words its own event types in messages (its EVENT_WORDS)
_WORDS_TO_TYPE = {
    words: event_type
    for module in source_plugins().values()
    for event_type, words in getattr(module, "EVENT_WORDS", {}).items()
}


@dataclass
class SinkFaults:
    rate_500: float = 0.08
    rate_429: float = 0.03
    rate_reset: float = 0.04
    rate_slow: float = 0.10
    slow_seconds: tuple[float, float] = (0.2, 1.0)  # the worker's send timeout is 5 s

    def rates(self) -> dict[str, float]:
        return {"500": self.rate_500, "429": self.rate_429, "reset": self.rate_reset,
                "slow": self.rate_slow}


class FlakySink:
    def __init__(self, server: LoopbackServer, record: Path, faults: SinkFaults,
                 seed: int) -> None:
        self.server = server
        self.record = record
        self.plan = FaultPlan(faults.rates(), seed=seed)
        self.faults = faults
        self.accepted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._file = record.open("a", encoding="utf-8")
        for name in TARGETS:
            server.routes[f"/hook/{name}"] = self._serve(name)

    def url(self, name: str) -> str:
        return f"json://127.0.0.1:{self.server.port}/hook/{name}"

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _serve(self, name: str) -> Any:
        def serve(request: Request) -> Response:
            kind = self.plan.draw()
            if kind == "reset":
                raise Reset
            if kind == "500":
                return Response("sink down", status=500)
            if kind == "429":
                return Response("slow down", status=429, headers={"Retry-After": "1"})
            if kind == "slow":
                stall(self.plan.uniform(*self.faults.slow_seconds))
            payload = json.loads(request.get_data() or b"{}")
            line = json.dumps({"target": name, "at": time.time(),
                               "title": payload.get("title", ""),
                               "message": payload.get("message", "")})
            with self._lock:  # durable before the 200: the oracle must be exact
                self._file.write(line + "\n")
                self._file.flush()
                os.fsync(self._file.fileno())
                self.accepted[name] += 1
            return Response("ok", status=200)

        return serve


@dataclass(frozen=True)
class Delivery:
    target: str
    key: EventKey | None  # None: not an event alert (a source-health notice to the operators)
    message: str
    folded: bool = False  # one alert listed in a folded message (issue 13's burst folding)


def event_key_of(message: str) -> EventKey | None:
    """(repo, number, event_type) from the default chat text: "[MRT] {what} · ..." + the link."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines or not lines[0].startswith("[MRT] ") or " · " not in lines[0]:
        return None
    event_type = _WORDS_TO_TYPE.get(lines[0][6:].split(" · ")[0].strip())
    path = urlsplit(lines[-1]).path.strip("/").split("/")  # owner/repo/issues|pull/N
    if event_type is None or len(path) != 4 or not path[3].isdigit():
        return None
    return (f"{path[0]}/{path[1]}", int(path[3]), event_type)


FOLD_TITLE = "alerts at once"  # the title of a folded message: "[MRT] N alerts at once (...)"


def fold_items(message: str) -> list[tuple[EventKey | None, str]]:
    """Each alert a folded message lists ("• what · where: title (why)", then "  link"; what,
    where and why are said once above the list when every alert shares them)."""
    items: list[tuple[EventKey | None, str]] = []
    head: str | None = None
    lines = message.splitlines()
    # "what · where" said once above the list when every alert shares it
    shared = lines[0] if lines and " · " in lines[0] and not lines[0].startswith("• ") else None
    for line in [*lines, "• "]:
        if line.startswith("• "):
            if head is not None:  # an item without a link: an operators' notice
                items.append((None, head))
            head = line[2:] or None
        elif head is not None and line.strip().startswith("http"):
            text = f"[MRT] {shared or head}\n{line.strip()}"
            items.append((event_key_of(text), text))
            head = None
    return items


def read_deliveries(record: Path) -> list[Delivery]:
    found = []
    with record.open(encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            if FOLD_TITLE in entry.get("title", ""):
                found += [Delivery(entry["target"], key, text, folded=True)
                          for key, text in fold_items(entry["message"])]
                continue
            found.append(Delivery(entry["target"], event_key_of(entry["message"]),
                                  entry["message"]))
    return found
