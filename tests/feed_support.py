"""Loopback fakes of feed upstreams, built on the recorded feeds in tests/fixtures/upstream/feed
and tests/fixtures/upstream/arxiv: a served body that tests change, with ETag/Last-Modified
validators honoured (304), and the requests it saw. No tests live here."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
OTO_ATOM = UPSTREAM / "feed" / "releases_atom_hajimehoshi_oto.xml"
SIUN_RSS = UPSTREAM / "feed" / "pypi_rss_project_releases_siun.xml"
ARXIV_SEARCH = UPSTREAM / "arxiv" / "q_testing_s0_m10_bc5a6c384fe9.xml"
ARXIV_LISTING = UPSTREAM / "arxiv" / "listing_cs_CL_atom.xml"


def atom_entry(ident: str, title: str, updated: datetime, html: str = "<p>notes</p>",
               link: str | None = None) -> str:
    """One Atom entry as GitHub's releases.atom writes it (HTML content escaped)."""
    href = link or f"https://example.org/{escape(ident)}"
    return (f"<entry><id>{escape(ident)}</id><updated>{updated:%Y-%m-%dT%H:%M:%SZ}</updated>"
            f'<link rel="alternate" type="text/html" href="{href}"/>'
            f"<title>{escape(title)}</title><content type=\"html\">{escape(html)}</content>"
            "<author><name>someone</name></author></entry>")


@dataclass
class FakeFeed:
    """One feed URL on the loopback server: `body` is served with an ETag and a Last-Modified;
    a request carrying either validator of the current body gets 304. `fault` replaces the
    answer while set."""

    body: bytes
    content_type: str = "application/atom+xml; charset=utf-8"
    modified: datetime | None = None
    fault: Callable[[], Response] | None = None
    statuses: list[int] = field(default_factory=list)
    conditional: list[tuple[str | None, str | None]] = field(default_factory=list)
    seen_at: list[float] = field(default_factory=list)
    clock: Callable[[], float] | None = None

    def install(self, server: HTTPServer, path: str) -> FakeFeed:
        server.expect_request(path).respond_with_handler(self.handle)
        return self

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"'

    def handle(self, request: Request) -> Response:
        if self.clock is not None:
            self.seen_at.append(self.clock())
        response = self.fault() if self.fault is not None else self._answer(request)
        self.statuses.append(response.status_code)
        return response

    def _answer(self, request: Request) -> Response:
        sent = (request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"))
        self.conditional.append(sent)
        headers = {"ETag": self.etag}
        if self.modified is not None:
            headers["Last-Modified"] = format_datetime(self.modified, usegmt=True)
        # RFC 9110: If-None-Match, when sent, decides; If-Modified-Since only without it
        fresh = sent[0] == self.etag if sent[0] else bool(
            sent[1] and sent[1] == headers.get("Last-Modified"))
        if fresh:
            return Response(status=304, headers=headers)
        return Response(self.body, status=200, content_type=self.content_type, headers=headers)

    def add_atom(self, entry: str) -> None:
        """Put an entry first in an Atom feed (newest first, as feeds list them)."""
        text = self.body.decode("utf-8")
        head, sep, rest = text.partition("<entry>")
        self.body = (head + entry + sep + rest).encode("utf-8")

    def replace(self, old: str, new: str) -> None:
        text = self.body.decode("utf-8")
        assert old in text, old
        self.body = text.replace(old, new, 1).encode("utf-8")


def html_page() -> Response:
    return Response("<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>",
                    status=200, content_type="text/html; charset=utf-8")


def too_many() -> Response:
    return Response("slow down", status=429, headers={"Retry-After": "3600"})


def server_error() -> Response:
    return Response("upstream exploded", status=503)
