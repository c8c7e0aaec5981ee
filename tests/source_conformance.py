"""Every source's conformance declaration, collected in CASES for the one class of tests in
tests/test_source_conformance.py. A new source gets the whole class by adding a `SourceCase`
(tests/conformance_case.py) here: its plugin module, a config section pointing at a loopback
fake, how the fake changes and what that yields, and the reason for anything it does not
support (shown by `pytest -rs`). The issues/PRs and package/advisory sources are declared in
this file, the feeds in conformance_feeds.py, the hubs and GitHub releases/tags in
conformance_hubs.py, oci and GitLab in conformance_more.py. No tests live here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conformance_case import Faulty, Served, SourceCase
from conformance_feeds import ARXIV, FEED
from conformance_hubs import GITHUB_RELEASES, GITHUB_TAGS, HUGGINGFACE, MODELSCOPE
from conformance_more import (
    DOCKERHUB,
    GITLAB_ISSUES,
    GITLAB_MRS,
    GITLAB_RELEASES,
    GITLAB_TAGS,
    REGISTRY,
)
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

from mrt.sources import ghsa, github, npm, osv, pypi

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


CASES = [GITHUB, GITHUB_RELEASES, GITHUB_TAGS, HUGGINGFACE, MODELSCOPE, PYPI, NPM, OSV, GHSA,
         FEED, ARXIV, DOCKERHUB, REGISTRY, GITLAB_ISSUES, GITLAB_MRS,
         GITLAB_RELEASES, GITLAB_TAGS]
