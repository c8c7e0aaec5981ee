"""Conformance declarations of the feed sources (generic RSS/Atom, arXiv); collected in
tests/source_conformance.py. No tests live here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance_case import SourceCase
from feed_support import OTO_ATOM, FakeFeed, atom_entry
from pytest_httpserver import HTTPServer
from test_source_support import T0
from werkzeug import Request, Response

from mrt.sources.feeds import arxiv, feed

# --- RSS/Atom feed ---------------------------------------------------------------------------

@dataclass
class Feed(FakeFeed):
    """The recorded releases.atom of hajimehoshi/oto, with ETag and Last-Modified."""

    requests: list[Request] = field(default_factory=list)
    answer: Response | None = None

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        if self.answer is not None:
            self.statuses.append(self.answer.status_code)
            return self.answer
        return super().handle(request)


def _feed_serve(server: HTTPServer) -> Feed:
    fake = Feed(OTO_ATOM.read_bytes(), modified=T0)
    fake.install(server, "/oto.atom")
    return fake


def _feed_change(fake: Feed) -> None:
    fake.add_atom(atom_entry("tag:github.com,2008:Repository/90259571/v2.1.0", "v2.1.0",
                             T0 - timedelta(hours=1)))
    fake.modified = T0 + timedelta(minutes=1)


FEED = SourceCase(
    name="feed", plugin="feed", module=feed,
    section=lambda server: feed.Config(feeds=[feed.FeedRef(url=server.url_for("/oto.atom"),
                                                           name="oto")]),
    serve=_feed_serve,
    change=_feed_change,
    change_events=["entry_published"],
    # v2.1.0-alpha.4 and alpha.5 came out after November 1st 2021, the rest before
    reset_at=datetime(2021, 11, 1, tzinfo=UTC),
    reset_events=["entry_published"] * 3,
    no_paging="a feed is one document: nothing to page",
)


# --- arXiv --------------------------------------------------------------------------------

class _Unserved:
    """Takes FakeArxiv's own registration, so that Arxiv can register its handler instead."""

    def expect_request(self, *args: Any, **kwargs: Any) -> _Unserved:
        return self

    def respond_with_handler(self, handler: Any) -> None:
        pass


class Arxiv:
    """The recorded API search, sliced by start/max_results (FakeArxiv of test_source_arxiv);
    it sends no validators, as the recording has none."""

    def __init__(self, server: HTTPServer) -> None:
        from test_source_arxiv import FakeArxiv
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.answer: Response | None = None
        self.fake = FakeArxiv(_Unserved())  # type: ignore[arg-type]
        server.expect_request("/api/query").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        response: Response = self.answer or self.fake.handle(request)
        self.statuses.append(response.status_code)
        return response


def _arxiv_grow(served: Arxiv) -> int:
    for n in range(6):  # six new papers: two pages of four
        served.fake.add(f"2611.0000{n}", 1, f"2026-11-22T07:0{n}:00Z", f"Paper {n}")
    return 6


ARXIV = SourceCase(
    name="arxiv", plugin="arxiv", module=arxiv,
    section=lambda server: arxiv.Config(queries=['cat:cs.CL AND abs:"mixture of experts"'],
                                        base_url=server.url_for("/"), page_size=4),
    serve=Arxiv,
    change=lambda served: served.fake.add("2611.09999", 1, "2026-11-22T08:00:00Z"),
    change_events=["paper_published"],
    # two recorded papers were revised (v2) after 2025-01-01, the other eight before it
    reset_at=datetime(2025, 1, 1, tzinfo=UTC),
    reset_events=["paper_revised", "paper_revised", "paper_published"],
    grow=_arxiv_grow,
    no_conditional="the arXiv API search answers carry no ETag or Last-Modified",
)
