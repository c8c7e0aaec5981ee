"""A GitHub that changes over time and misbehaves, and the record of what must be alerted.

`FlakyGitHub` wraps `FakeGitHub` (since/sort/direction/Link/ETag/304 from
tests/test_source_support.py) for each repo with a fault layer: 429 + Retry-After, 5xx, a stall
past the worker's source timeout, a connection reset, a malformed JSON body. `ChangeDriver` is
a thread with its own seeded schedule that opens issues and pull requests (some titles carry the
watched keyword), closes, merges and touches them. Every change that must become a matching
event is recorded in `expected` BEFORE the fake can serve it (both under one lock).
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from test_source_support import FakeGitHub, iso, recorded_issues
from werkzeug import Request, Response

from soak.servers import FaultPlan, LoopbackServer, Reset, stall

KEYWORD = "llama"
EventKey = tuple[str, int, str]  # (repo, number, event_type)

_KEYWORD_TITLES = [
    "Llama 4 tokenizer fails on long prompts",
    "Support llama.cpp GGUF export",
    "Add Llama-3.3-70B to the model zoo",
    "Crash when loading a LLaMA checkpoint with sharded safetensors",
]
_PLAIN_TITLES = [
    "Docs: fix a typo in the quickstart",
    "Bump actions/checkout from 3 to 4",
    "Flaky test in the scheduler suite",
    "Windows build fails with MSVC 19.40",
]
_BODY = "Steps to reproduce are in the linked notebook. Seen on {n} nodes."


@dataclass
class UpstreamFaults:
    """Per-request fault rates of the fake GitHub (the rest is served normally)."""

    rate_429: float = 0.03
    rate_5xx: float = 0.04
    rate_stall: float = 0.02
    rate_reset: float = 0.02
    rate_malformed: float = 0.02
    stall_seconds: float = 1.5  # past the worker's 1 s source timeout

    def rates(self) -> dict[str, float]:
        return {"429": self.rate_429, "5xx": self.rate_5xx, "stall": self.rate_stall,
                "reset": self.rate_reset, "malformed": self.rate_malformed}


@dataclass
class ChangeLog:
    expected: set[EventKey] = field(default_factory=set)  # matching events: must be delivered
    changes: dict[str, int] = field(default_factory=dict)  # kind -> count (all, matching or not)
    last_change_at: float = 0.0  # time.time() of the last applied change

    def count(self, kind: str) -> None:
        self.changes[kind] = self.changes.get(kind, 0) + 1


class FlakyGitHub:
    def __init__(self, server: LoopbackServer, repos: list[str], faults: UpstreamFaults,
                 seed: int) -> None:
        self.lock = threading.Lock()
        self.plan = FaultPlan(faults.rates(), seed=seed)
        self.faults = faults
        self.fakes: dict[str, FakeGitHub] = {}
        for repo in repos:
            fake = FakeGitHub(server, repo, _baseline(repo))  # type: ignore[arg-type]
            self.fakes[repo] = fake
            server.routes[fake.path] = self._wrap(fake)

    def _wrap(self, fake: FakeGitHub) -> Any:
        def serve(request: Request) -> Response:
            kind = self.plan.draw()
            if kind == "reset":
                raise Reset
            if kind == "stall":
                stall(self.faults.stall_seconds)
            if kind == "429":
                wait = self.plan.choice([1, 2, 7])  # short: retried in the poll; 7 s: deferred
                return Response(json.dumps({"message": "API rate limit exceeded"}), status=429,
                                headers={"Retry-After": str(wait)},
                                content_type="application/json")
            if kind == "5xx":
                return Response("upstream hiccup", status=self.plan.choice([500, 502, 503]))
            with self.lock:
                response = fake.handle(request)
                fake.requests.clear()  # a long run must not keep every request
            if kind == "malformed" and response.status_code == 200:
                body = response.get_data()[: max(1, len(response.get_data()) // 2)]
                return Response(body, status=200, content_type="application/json")
            return response

        return serve


def _baseline(repo: str) -> list[dict[str, Any]]:
    """The recorded PyGithub issues/PRs, moved into `repo`: what the baseline poll sees."""
    items = copy.deepcopy(recorded_issues())
    for item in items:
        kind = "pull" if "pull_request" in item else "issues"
        item["html_url"] = f"https://github.com/{repo}/{kind}/{item['number']}"
    return items


class ChangeDriver(threading.Thread):
    """Changes the fake GitHub on its own seeded schedule until `stop()`."""

    def __init__(self, github: FlakyGitHub, log: ChangeLog, *, seed: int,
                 changes_per_second: float) -> None:
        super().__init__(daemon=True, name="soak-changes")
        self.github, self.log = github, log
        self.rng = random.Random(seed)
        self.period = 1.0 / changes_per_second
        self._stop_event = threading.Event()
        self._templates = {
            "issue": next(i for i in recorded_issues() if "pull_request" not in i),
            "pr": next(i for i in recorded_issues() if "pull_request" in i),
        }
        self._next_number = {repo: 5000 for repo in github.fakes}
        self._open: dict[str, list[dict[str, Any]]] = {repo: [] for repo in github.fakes}
        self._last_stamp = ""

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)

    def run(self) -> None:
        while not self._stop_event.wait(self.rng.uniform(0.2, 1.8) * self.period):
            with self.github.lock:
                self.change_once()

    def _stamp(self) -> str:
        # never older than the previous change: an updated_at that went back would hide it
        stamp = max(iso(datetime.now(UTC)), self._last_stamp)
        self._last_stamp = stamp
        return stamp

    def change_once(self) -> None:
        repo = self.rng.choice(sorted(self.github.fakes))
        fake = self.github.fakes[repo]
        open_items = self._open[repo]
        roll = self.rng.random()
        if roll < 0.45 or not open_items:
            self._create(repo, fake, pr=self.rng.random() < 0.4)
        elif roll < 0.85:
            item = open_items.pop(self.rng.randrange(len(open_items)))
            self._close(repo, item)
        else:
            item = self.rng.choice(open_items)
            item["comments"] = int(item.get("comments") or 0) + 1
            item["updated_at"] = self._stamp()
            self.log.count("touched")
        self.log.last_change_at = time.time()

    def _create(self, repo: str, fake: FakeGitHub, *, pr: bool) -> None:
        number = self._next_number[repo]
        self._next_number[repo] += 1
        matching = self.rng.random() < 0.5
        title = self.rng.choice(_KEYWORD_TITLES if matching else _PLAIN_TITLES)
        item = copy.deepcopy(self._templates["pr" if pr else "issue"])
        stamp = self._stamp()
        kind = "pull" if pr else "issues"
        item.update(
            id=10**9 + number * 10 + (1 if repo.endswith("a") else 2), number=number,
            title=f"{title} (#{number})", body=_BODY.format(n=number % 7 + 2),
            state="open", closed_at=None, state_reason=None, comments=0, labels=[],
            created_at=stamp, updated_at=stamp,
            html_url=f"https://github.com/{repo}/{kind}/{number}",
            url=f"https://api.github.com/repos/{repo}/issues/{number}",
        )
        if pr:
            item["pull_request"] = {**item["pull_request"], "merged_at": None,
                                    "html_url": item["html_url"]}
        if matching:
            self.log.expected.add((repo, number, "pr_opened" if pr else "issue_opened"))
        fake.issues.append(item)
        self._open[repo].append(item)
        self.log.count("pr_opened" if pr else "issue_opened")

    def _close(self, repo: str, item: dict[str, Any]) -> None:
        stamp = self._stamp()
        pr = "pull_request" in item
        merged = pr and self.rng.random() < 0.7
        item.update(state="closed", closed_at=stamp, updated_at=stamp,
                    state_reason=None if pr else "completed")
        if merged:
            item["pull_request"]["merged_at"] = stamp
        kind = "pr_merged" if merged else "pr_closed" if pr else "issue_closed"
        if KEYWORD in item["title"].lower():
            self.log.expected.add((repo, int(item["number"]), kind))
        self.log.count(kind)
