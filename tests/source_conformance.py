"""What a source declares to be run through the conformance class in
tests/test_source_conformance.py: its plugin module, a config section pointing at a loopback
fake, how the fake changes, the events that change yields, and what the source does not support
(with the reason, shown by `pytest -rs`). A new source gets the whole class by adding one
`SourceCase` to CASES. No tests live here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, Protocol

from feed_support import OTO_ATOM, FakeFeed, atom_entry
from ghsa_support import ECOSYSTEM as GHSA_ECOSYSTEM
from ghsa_support import PACKAGE as GHSA_PACKAGE
from ghsa_support import FakeAdvisories, advisory
from osv_support import PACKAGE as OSV_PACKAGE
from osv_support import FakeOsv
from pytest_httpserver import HTTPServer
from test_source_pypi import FakePyPI
from test_source_pypi import recorded as pypi_recorded
from test_source_support import T0, FakeGitHub, close, iso, recorded_issues, touch
from werkzeug import Request, Response

from mrt.config import SourceSection
from mrt.sources import ghsa, github, npm, osv, pypi
from mrt.sources.feeds import arxiv, feed


class Served(Protocol):
    """A loopback fake as the class drives it: every request it saw, and an `answer` that,
    when set, replaces its normal answer (the fault cases)."""

    requests: list[Any]
    statuses: list[int]
    answer: Response | None


@dataclass(frozen=True)
class SourceCase:
    """One source's declaration. `serve` installs the fake's state 0 on the server; `change`
    moves it to state 1, which must yield exactly `change_events` (event types, in order).
    `reset_at`/`reset_events`: after the change, `cursor_since(reset_at)` then a poll yields
    exactly those events (what changed after the date and nothing before). A `no_*` field holds
    the reason the source does not do that thing; None means it does."""

    name: str
    plugin: str  # its entry point name in `mrt.sources`
    module: ModuleType
    section: Callable[[HTTPServer], SourceSection]
    serve: Callable[[HTTPServer], Served]
    change: Callable[[Any], None]
    change_events: list[str]
    reset_at: datetime
    reset_events: list[str]
    env: dict[str, str] = field(default_factory=dict)
    grow: Callable[[Any], int] | None = None  # N changes spanning pages; returns N
    no_conditional: str | None = None
    no_paging: str | None = None


class Faulty:
    """Mixed in before a fake that has `handle` and `requests` but no `answer`/`statuses`."""

    answer: Response | None = None

    def handle(self, request: Request) -> Response:
        statuses: list[int] = self.__dict__.setdefault("statuses", [])
        if self.answer is not None:
            self.requests.append(request)  # type: ignore[attr-defined]
            statuses.append(self.answer.status_code)
            return self.answer
        response: Response = super().handle(request)  # type: ignore[misc]
        statuses.append(response.status_code)
        return response


# --- GitHub issues and pull requests -------------------------------------------------------

REPO = "PyGithub/PyGithub"


class GitHubIssues(Faulty, FakeGitHub):
    pass


def _github_change(fake: GitHubIssues) -> None:
    close(fake.issue(3034), T0 - timedelta(minutes=5), merged=True)


def _github_grow(fake: GitHubIssues) -> int:
    """150 issues opened since the baseline (copies of a recorded one, renumbered): two
    pages of 100, one event each."""
    template = fake.issues[0]
    for n in range(150):
        extra = {**template, "number": 100_000 + n, "id": 9_000_000 + n,
                 "created_at": iso(T0 - timedelta(hours=3))}
        touch(extra, T0 - timedelta(hours=3) + timedelta(minutes=n))
        fake.issues.append(extra)
    return 150


GITHUB = SourceCase(
    name="github", plugin="github", module=github,
    section=lambda server: github.Config(repos=[REPO], base_url=server.url_for("/"),
                                         token_env="GITHUB_TOKEN"),
    serve=lambda server: GitHubIssues(server, REPO, recorded_issues()),
    env={"GITHUB_TOKEN": "ghp_conformance"},
    change=_github_change,
    change_events=["pr_merged"],
    # the recorded issues were last updated in 2024; the merge is after the date
    reset_at=datetime(2026, 1, 1, tzinfo=UTC),
    reset_events=["pr_merged"],
    grow=_github_grow,
)


# --- PyPI ---------------------------------------------------------------------------------

def _pypi_upload(fake: FakePyPI) -> None:
    fake.upload("0.1.10", T0 - timedelta(hours=1))


PYPI = SourceCase(
    name="pypi", plugin="pypi", module=pypi,
    section=lambda server: pypi.Config(projects=["azure-cli-monitor"],
                                       base_url=server.url_for("/")),
    serve=lambda server: FakePyPI(server, pypi_recorded()),
    change=_pypi_upload,
    change_events=["version_published"],
    # 0.1.6 and 0.1.7 were uploaded in May 2018, 0.1.5 and older before it
    reset_at=datetime(2018, 5, 1, tzinfo=UTC),
    reset_events=["version_published"] * 3,
    no_paging="one JSON document per project: nothing to page",
)


# --- npm ----------------------------------------------------------------------------------

def _npm_serve(server: HTTPServer) -> Served:
    from test_source_npm import FakeRegistry
    from test_source_npm import recorded as npm_recorded
    return FakeRegistry(server, npm_recorded())


NPM = SourceCase(
    name="npm", plugin="npm", module=npm,
    section=lambda server: npm.Config(packages=["tiny-tarball"], base_url=server.url_for("/")),
    serve=_npm_serve,
    change=lambda fake: fake.publish("1.1.0", tag=None),
    change_events=["version_published"],
    # the packument was last modified in 2015; npm reports what differs from its snapshot
    reset_at=datetime(2015, 1, 1, tzinfo=UTC),
    reset_events=["version_published"],
    no_paging="one packument per package: nothing to page",
)


# --- OSV ----------------------------------------------------------------------------------

class Osv(FakeOsv):
    """The recorded advisories; `answer` is the batch query's outage answer."""

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.statuses: list[int] = []
        self.seed_recorded()

    @property
    def answer(self) -> Response | None:
        return self.fault

    @answer.setter
    def answer(self, response: Response | None) -> None:
        self.fault = response


def _osv_grow(fake: Osv) -> int:
    """Five advisories published since the baseline, listed two to a page."""
    fake.page_size = 2
    for n in range(5):
        fake.publish(f"GHSA-conf-{n:04d}-grow", T0 - timedelta(hours=2, minutes=n))
    return 5


OSV = SourceCase(
    name="osv", plugin="osv", module=osv,
    section=lambda server: osv.Config(packages=[osv.Package(**OSV_PACKAGE)],
                                      base_url=server.url_for("/")),
    serve=Osv,
    change=lambda fake: fake.publish("GHSA-conf-0000-new0", T0 - timedelta(hours=1)),
    change_events=["advisory_published"],
    # two recorded advisories were modified after 2023-03-20, two before it
    reset_at=datetime(2023, 3, 20, tzinfo=UTC),
    reset_events=["advisory_modified", "advisory_modified", "advisory_published"],
    grow=_osv_grow,
    no_conditional="the batch query is a POST: no ETag/Last-Modified to revalidate",
)


# --- GitHub security advisories -------------------------------------------------------------

class Ghsa(FakeAdvisories):
    """The recorded global advisory; `answer` is the outage answer."""

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server, per_page_cap=2)  # the source asks 100; two to a page here
        self.statuses: list[int] = []
        self.seed_recorded()

    @property
    def answer(self) -> Response | None:
        return self.fault

    @answer.setter
    def answer(self, response: Response | None) -> None:
        self.fault = response

    def _page(self, request: Request, path: str, items: list[dict[str, Any]]) -> Response:
        response = super()._page(request, path, items)
        self.statuses.append(response.status_code)
        return response


def _ghsa_grow(fake: Ghsa) -> int:
    """Five advisories published since the baseline: three pages of two."""
    for n in range(5):
        fake.global_items.append(advisory(f"GHSA-conf-{n:04d}-grow", None,
                                          T0 - timedelta(hours=2, minutes=n)))
    return 5


GHSA = SourceCase(
    name="ghsa", plugin="ghsa", module=ghsa,
    section=lambda server: ghsa.Config(
        packages=[ghsa.Package(ecosystem=GHSA_ECOSYSTEM, name=GHSA_PACKAGE)],
        base_url=server.url_for("/"), token_env="GITHUB_TOKEN"),
    serve=Ghsa,
    env={"GITHUB_TOKEN": "ghp_conformance"},
    change=lambda fake: fake.global_items.append(
        advisory("GHSA-conf-0000-new0", "CVE-2026-0001", T0 - timedelta(hours=1))),
    change_events=["advisory_published"],
    # the recorded advisory was published on 2023-03-21: after the 20th it is news again
    reset_at=datetime(2023, 3, 20, tzinfo=UTC),
    reset_events=["advisory_published", "advisory_published"],
    grow=_ghsa_grow,
)


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

class Arxiv:
    """The recorded API search, sliced by start/max_results (FakeArxiv of test_source_arxiv);
    it sends no validators, as the recording has none."""

    def __init__(self, server: HTTPServer) -> None:
        from test_source_arxiv import FakeArxiv
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.answer: Response | None = None
        self.fake = FakeArxiv(server)
        server.clear_all_handlers()
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


CASES = [GITHUB, PYPI, NPM, OSV, GHSA, FEED, ARXIV]
