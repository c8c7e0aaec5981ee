"""One class of tests run against every source declared in tests/source_conformance.py: the
contract every source keeps (silent baseline, change detection, no repeats, conditional
requests, paging, cursor reset, faults), each over real loopback HTTP with a real HttpPool."""

from __future__ import annotations

from typing import Any

import pytest
from conformance_case import Served, SourceCase
from pytest_httpserver import HTTPServer
from source_conformance import CASES
from test_source_support import FakeClock, SourceState, make_pool, poll_once, run
from werkzeug import Response

from mrt.errors import RateLimited, SourceError
from mrt.ops.cursor import cursor_at
from mrt.source_kit.contract import PollResult

HTML_PAGE = "<html><body>Service Unavailable</body></html>"


def types(result: PollResult) -> list[str]:
    return [e.event_type for e in result.events]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
class TestSourceConformance:
    """`case` is one source's declaration; `served` its fake on a fresh loopback server."""

    @pytest.fixture
    def served(self, case: SourceCase, httpserver: HTTPServer) -> Served:
        return case.serve(httpserver)

    def polls(self, case: SourceCase, httpserver: HTTPServer, state: SourceState,
              steps: list[Any]) -> list[PollResult]:
        """Poll once per step on one pool; a step is called (with no argument) before its poll."""
        specs = case.module.instances(case.plugin, case.section(httpserver), None)
        spec = next(s for s in specs if case.key in (None, s.key))
        results: list[PollResult] = []

        async def go() -> None:
            async with make_pool(FakeClock()) as pool:
                for step in steps:
                    step()
                    result, _ = await poll_once(case.module, spec, pool, state, env=case.env)
                    results.append(result)

        run(go)
        return results

    def test_first_poll_is_a_silent_baseline(self, case: SourceCase, served: Served,
                                             httpserver: HTTPServer) -> None:
        state = SourceState()
        (base,) = self.polls(case, httpserver, state, [lambda: None])
        assert base.events == []
        assert state.snapshots, "the baseline records what it saw"
        assert state.cursor, "the baseline records a cursor"

    def test_a_change_yields_exactly_its_events_once(self, case: SourceCase, served: Served,
                                                     httpserver: HTTPServer) -> None:
        state = SourceState()
        _, changed, again = self.polls(case, httpserver, state, [
            lambda: None, lambda: case.change(served), lambda: None])
        assert types(changed) == case.change_events
        assert again.events == [], "the same answer again reports nothing"

    def test_an_unchanged_upstream_is_asked_conditionally(
        self, case: SourceCase, served: Served, httpserver: HTTPServer
    ) -> None:
        """Once in steady state (a source may ask a different URL after its baseline, as
        GitHub's `since` does), an unchanged upstream answers 304 and yields nothing."""
        if case.no_conditional:
            pytest.skip(f"{case.name}: {case.no_conditional}")
        state = SourceState()
        self.polls(case, httpserver, state, [lambda: None, lambda: None])
        before = len(served.requests)
        (again,) = self.polls(case, httpserver, state, [lambda: None])
        asked = served.requests[before:]
        assert len(asked) == 1, "an unchanged upstream costs one request"
        assert "If-None-Match" in asked[0].headers or "If-Modified-Since" in asked[0].headers
        assert served.statuses[before:] == [304]
        assert again.events == []

    def test_pages_are_followed(self, case: SourceCase, served: Served,
                                httpserver: HTTPServer) -> None:
        if case.grow is None:
            pytest.skip(f"{case.name}: {case.no_paging or 'no paging declared'}")
        state = SourceState()
        self.polls(case, httpserver, state, [lambda: None])
        before = len(served.requests)
        count = case.grow(served)
        grown, again = self.polls(case, httpserver, state, [lambda: None, lambda: None])
        assert len(served.requests) - before > 2, "the change spans more than one page"
        assert len(grown.events) == count, "every page was read"
        assert again.events == []

    def test_cursor_reset_reports_what_changed_after_the_date(
        self, case: SourceCase, served: Served, httpserver: HTTPServer
    ) -> None:
        state = SourceState()

        def reset() -> None:
            case.change(served)
            state.cursor = cursor_at(case.plugin, case.reset_at)  # what `mrt cursor reset` writes
            state.validators = {}  # ...and it clears the validators

        _, after = self.polls(case, httpserver, state, [lambda: None, reset])
        assert sorted(types(after)) == sorted(case.reset_events), after.events

    @pytest.mark.parametrize("answer, error", [
        (Response("slow down", status=429, headers={"Retry-After": "3600"}), RateLimited),
        (Response("oops", status=503), SourceError),
        (Response(HTML_PAGE, status=200, content_type="text/html"), SourceError),
    ], ids=["429", "503", "html-200"])
    def test_a_fault_defers_or_fails_and_keeps_the_cursor(
        self, case: SourceCase, served: Served, httpserver: HTTPServer, answer: Response,
        error: type[Exception]
    ) -> None:
        state = SourceState()
        self.polls(case, httpserver, state, [lambda: None])
        cursor = dict(state.cursor or {})
        served.answer = answer
        with pytest.raises(error):
            self.polls(case, httpserver, state, [lambda: None])
        assert state.cursor == cursor
