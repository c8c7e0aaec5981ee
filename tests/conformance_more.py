"""Conformance declarations (tests/conformance_case.py) for the container images (`oci`: one
Docker Hub image, one distribution-API registry image behind the 401 Bearer token flow) and
GitLab (issues, merge requests, releases, tags), on the fakes of tests/test_source_oci.py and
tests/test_source_gitlab.py. No tests live here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conformance_case import Faulty, SourceCase
from pytest_httpserver import HTTPServer
from test_source_gitlab import PROJECT, FakeGitLab
from test_source_oci import NAME, FakeDockerHub, FakeRegistry
from test_source_support import T0

from mrt.sources import gitlab, oci

# --- Docker Hub -----------------------------------------------------------------------------


def _hub(server: HTTPServer) -> FakeDockerHub:
    hub = FakeDockerHub(server)
    hub.push("a", T0 - timedelta(days=10))
    hub.push("b", T0 - timedelta(days=1))
    return hub


def _hub_grow(hub: FakeDockerHub) -> int:
    """150 tags pushed since the baseline: the newest page of 100 does not reach the cursor."""
    for n in range(150):
        hub.push(f"2.{n}.0", T0 - timedelta(hours=3) + timedelta(minutes=n))
    return 150


DOCKERHUB = SourceCase(
    name="oci-dockerhub", plugin="oci", module=oci,
    section=lambda server: oci.Config(images=["rust"], base_url=server.url_for("/")),
    serve=_hub,
    change=lambda hub: hub.push("1.45.0", T0 - timedelta(hours=1)),
    change_events=["tag_published"],
    # "a" was pushed ten days before T0, "b" one day before: b and the new tag are news again
    reset_at=T0 - timedelta(days=5),
    reset_events=["tag_published", "tag_published"],
    grow=_hub_grow,
)


# --- a distribution-API registry (ghcr.io-like) ---------------------------------------------

class Registry(FakeRegistry):
    """FakeRegistry with the statuses the class reads; its `answer` already replaces every
    answer but the token endpoint's."""

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.statuses: list[int] = []
        self.digests = {"v0.4.0": "sha256:" + "a" * 64, "latest": "sha256:" + "1" * 64}


def _registry_grow(reg: Registry) -> int:
    """150 tags since the baseline: two pages of the tag list (n=100)."""
    for n in range(150):
        reg.digests[f"v1.{n:03d}"] = f"sha256:{n:064d}"
    return 150


REGISTRY = SourceCase(
    name="oci-registry", plugin="oci", module=oci,
    section=lambda server: oci.Config(images=[f"ghcr.io/{NAME}"],
                                      registry_urls={"ghcr.io": server.url_for("/").rstrip("/")}),
    serve=Registry,
    change=lambda reg: reg.digests.update({"v0.5.0": "sha256:" + "b" * 64}),
    change_events=["tag_published"],
    # the tag list has no dates: a reset cannot replay by date, only what differs from the
    # snapshot (the new tag) is reported
    reset_at=datetime(2026, 1, 1, tzinfo=UTC),
    reset_events=["tag_published"],
    grow=_registry_grow,
    no_conditional=("each poll starts with the 401 Bearer challenge and a token request, and "
                    "the distribution API's tag list carries no validator to revalidate"),
)


# --- GitLab ---------------------------------------------------------------------------------

class GitLab(Faulty, FakeGitLab):
    pass


def _gitlab(kind: str, **monitor: bool) -> Any:
    def section(server: HTTPServer) -> gitlab.Config:
        return gitlab.Config.model_validate({
            "projects": [PROJECT], "base_url": server.url_for("/"), "token_env": "GL_TOKEN",
            "monitor": monitor})
    return section


GL_ENV = {"GL_TOKEN": "glpat-conformance"}


def _new_issue(fake: GitLab) -> None:
    fake.add("issues", iid=7, state="opened", created_at="2016-02-01T00:00:00Z",
             updated_at="2016-02-01T00:00:00Z", title="new one")


def _issue_grow(fake: GitLab) -> int:
    """150 issues opened since the baseline: two pages of 100."""
    for n in range(10, 160):
        at = f"2016-02-01T00:{n // 60:02d}:{n % 60:02d}Z"
        fake.add("issues", iid=n, state="opened", created_at=at, updated_at=at)
    return 150


def _mr_grow(fake: GitLab) -> int:
    """150 merge requests opened since the baseline: two pages of 100."""
    for n in range(2, 152):
        at = f"2018-01-01T00:{n // 60:02d}:{n % 60:02d}Z"
        fake.add("merge_requests", iid=n, state="opened", created_at=at, updated_at=at)
    return 150


GITLAB_ISSUES = SourceCase(
    name="gitlab-issues", plugin="gitlab", module=gitlab,
    section=_gitlab("issues", issues=True, merge_requests=False),
    key=f"gitlab-issues:{PROJECT}", env=GL_ENV,
    serve=GitLab,
    change=_new_issue,
    change_events=["issue_opened"],
    # the recorded issue #6 was last updated on 2016-01-04; #7 is opened on 2016-02-01
    reset_at=datetime(2016, 1, 20, tzinfo=UTC),
    reset_events=["issue_opened"],
    grow=_issue_grow,
)

GITLAB_MRS = SourceCase(
    name="gitlab-mrs", plugin="gitlab", module=gitlab,
    section=_gitlab("mrs", issues=False, merge_requests=True),
    key=f"gitlab-mrs:{PROJECT}", env=GL_ENV,
    serve=GitLab,
    change=lambda fake: fake.items["merge_requests"][0].update(
        state="closed", updated_at="2018-02-02T00:00:00Z"),
    change_events=["mr_closed"],
    # the recorded !1 was merged on 2017-04-29; the close comes after the date
    reset_at=datetime(2018, 1, 1, tzinfo=UTC),
    reset_events=["mr_closed"],
    grow=_mr_grow,
)


def _release(fake: GitLab) -> None:
    fake.items["releases"].insert(0, dict(fake.items["releases"][0], tag_name="v0.3",
                                          name="Awesome app v0.3",
                                          released_at="2026-01-02T00:00:00Z"))


def _tag(fake: GitLab) -> None:
    first = fake.items["repository/tags"][0]
    fake.items["repository/tags"].insert(0, dict(first, name="v1.1.0", commit=dict(
        first["commit"], created_at="2026-01-02T00:00:00Z")))


NEWEST_PAGE = ("releases and tags are read from the newest page of 100 only: no cursor "
               "bounds an older page")

GITLAB_RELEASES = SourceCase(
    name="gitlab-releases", plugin="gitlab", module=gitlab,
    section=_gitlab("releases", issues=False, merge_requests=False, releases=True),
    key=f"gitlab-releases:{PROJECT}", env=GL_ENV,
    serve=GitLab, change=_release, change_events=["release_published"],
    # the recorded v0.2 was released on 2019-01-03: after 2019-01-01 it is news again
    reset_at=datetime(2019, 1, 1, tzinfo=UTC),
    reset_events=["release_published", "release_published"],
    no_paging=NEWEST_PAGE,
)

GITLAB_TAGS = SourceCase(
    name="gitlab-tags", plugin="gitlab", module=gitlab,
    section=_gitlab("tags", issues=False, merge_requests=False, tags=True),
    key=f"gitlab-tags:{PROJECT}", env=GL_ENV,
    serve=GitLab, change=_tag, change_events=["tag_created"],
    # the recorded v1.0.0's commit is of 2017-07-26: after 2017-07-01 it is news again
    reset_at=datetime(2017, 7, 1, tzinfo=UTC),
    reset_events=["tag_created", "tag_created"],
    no_paging=NEWEST_PAGE,
)
