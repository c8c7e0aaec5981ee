"""The conformance checks for a source with no upstream HTTP (modeldir scans a local
directory), on a real tmp directory. A sibling of tests/test_source_conformance.py rather than a
case of its class: that class builds every case on a loopback `httpserver` fake whose `answer`
it replaces for the faults, which a directory has no counterpart of. The checks that apply run
here with the same assertions (baseline silent, a change yields exactly its events, no repeat,
cursor reset round trip); the HTTP-only ones are reported as skipped with the reason."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_source_support import T0, FakeClock, SourceState, make_pool, poll_once, run

from mrt.ops.cursor import cursor_at
from mrt.source_kit.contract import PollResult
from mrt.sources import modeldir

NO_HTTP = "no upstream HTTP: a local directory"


def write(path: Path, mtime: datetime, body: bytes = b"{}") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    stamp = int(mtime.timestamp() * 1e9)
    os.utime(path, ns=(stamp, stamp))


def _seed(root: Path) -> None:
    write(root / "old/config.json", datetime(2025, 1, 1, tzinfo=UTC))
    write(root / "old/model.safetensors", datetime(2025, 1, 2, tzinfo=UTC), b"w" * 64)


def _change(root: Path) -> None:
    write(root / "new/config.json", T0 - timedelta(hours=1))


class LocalCase:
    """One local source's declaration: its module, a section on `root`, the seed (state 0),
    the change (state 1) and what it yields, and the reset date with what it yields."""

    def __init__(self, name: str, module: ModuleType, section: Callable[[Path], Any],
                 seed: Callable[[Path], None], change: Callable[[Path], None],
                 change_events: list[str], reset_at: datetime, reset_events: list[str]) -> None:
        self.name, self.module, self.section = name, module, section
        self.seed, self.change, self.change_events = seed, change, change_events
        self.reset_at, self.reset_events = reset_at, reset_events


MODELDIR = LocalCase(
    "modeldir", modeldir,
    section=lambda root: modeldir.Config(paths=[str(root)]),
    seed=_seed, change=_change, change_events=["model_added"],
    # old/ was written in January 2025; new/ after the date
    reset_at=datetime(2026, 1, 1, tzinfo=UTC), reset_events=["model_added"],
)
CASES = [MODELDIR]


def types(result: PollResult) -> list[str]:
    return [e.event_type for e in result.events]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
class TestLocalSourceConformance:

    @pytest.fixture
    def root(self, case: LocalCase, tmp_path: Path) -> Path:
        root = tmp_path / "models"
        root.mkdir()
        case.seed(root)
        return root

    def polls(self, case: LocalCase, root: Path, state: SourceState,
              steps: list[Any]) -> list[PollResult]:
        name = case.module.__name__.rsplit(".", 1)[1]
        (spec,) = case.module.instances(name, case.section(root), None)
        results: list[PollResult] = []

        async def go() -> None:
            async with make_pool(FakeClock()) as pool:
                for step in steps:
                    step()
                    result, client = await poll_once(case.module, spec, pool, state)
                    assert client.requests == 0, "a local source makes no HTTP request"
                    results.append(result)

        run(go)
        return results

    def test_first_poll_is_a_silent_baseline(self, case: LocalCase, root: Path) -> None:
        state = SourceState()
        (base,) = self.polls(case, root, state, [lambda: None])
        assert base.events == []
        assert state.snapshots, "the baseline records what it saw"
        assert state.cursor, "the baseline records a cursor"

    def test_a_change_yields_exactly_its_events_once(self, case: LocalCase, root: Path) -> None:
        state = SourceState()
        _, changed, again = self.polls(case, root, state, [
            lambda: None, lambda: case.change(root), lambda: None])
        assert types(changed) == case.change_events
        assert again.events == [], "the same tree again reports nothing"

    def test_cursor_reset_reports_what_changed_after_the_date(self, case: LocalCase,
                                                              root: Path) -> None:
        state = SourceState()
        name = case.module.__name__.rsplit(".", 1)[1]

        def reset() -> None:
            case.change(root)
            state.cursor = cursor_at(name, case.reset_at)  # what `mrt cursor reset` writes

        _, after, again = self.polls(case, root, state, [lambda: None, reset, lambda: None])
        assert sorted(types(after)) == sorted(case.reset_events), after.events
        assert again.events == [], "the reset is a round trip: once, then quiet"

    @pytest.mark.parametrize("check", [
        "test_an_unchanged_upstream_is_asked_conditionally", "test_pages_are_followed",
        "test_a_fault_defers_or_fails_and_keeps_the_cursor[429]",
        "test_a_fault_defers_or_fails_and_keeps_the_cursor[503]",
        "test_a_fault_defers_or_fails_and_keeps_the_cursor[html-200]"])
    def test_http_only_checks(self, case: LocalCase, check: str) -> None:
        pytest.skip(f"{case.name}: {check}: {NO_HTTP}")
