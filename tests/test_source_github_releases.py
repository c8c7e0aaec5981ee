"""GitHub releases and tags over loopback, fed with the recorded PyGithub releases and tags lists
(tests/fixtures/upstream/github/), mutated to simulate a new release, an edit, a promotion, a
deletion and a new tag."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    FakeClock,
    SourceState,
    json_response,
    load,
    make_pool,
    poll_once,
    run,
)
from werkzeug import Request, Response

from mrt.errors import RateLimited, SourceError
from mrt.ops.cursor import cursor_at
from mrt.source_kit.contract import PollResult, SourceSpec
from mrt.sources import github

REPO = "PyGithub/PyGithub"


def recorded_releases() -> list[dict[str, Any]]:
    return load("github/releases_list_pygithub.json")  # type: ignore[no-any-return]


def recorded_tags() -> list[dict[str, Any]]:
    return load("github/tags_list_pygithub.json")  # type: ignore[no-any-return]


class FakeList:
    """`GET /repos/{o}/{r}/{what}?per_page=N&page=P` as GitHub answers it: Link next, ETag/304."""

    def __init__(self, server: HTTPServer, what: str, items: list[dict[str, Any]],
                 repo: str = REPO) -> None:
        self.server, self.items = server, items
        self.path = f"/repos/{repo}/{what}"
        self.requests: list[Request] = []
        self.fail: Response | None = None
        server.expect_request(self.path).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        if self.fail is not None:
            return self.fail
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "30"))
        chunk = self.items[(page - 1) * per_page: page * per_page]
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4639",
                   "X-RateLimit-Reset": "1641832874"}
        if page * per_page < len(self.items):
            query = {**request.args, "page": str(page + 1)}
            headers["Link"] = f'<{self.server.url_for(self.path)}?{urlencode(query)}>; rel="next"'
        return json_response(request, chunk, headers)


def section(server: HTTPServer, **kw: Any) -> github.Config:
    kw.setdefault("monitor", {"issues": False, "pulls": False, "releases": True, "tags": True})
    return github.Config(repos=[REPO], base_url=server.url_for("/"), token_env="GITHUB_TOKEN",
                         **kw)


def spec(server: HTTPServer, kind: str, **kw: Any) -> SourceSpec:
    specs = github.instances("github", section(server, **kw), None)  # type: ignore[arg-type]
    return next(s for s in specs if s.key == f"github-{kind}:{REPO}")


def poll(server: HTTPServer, kind: str, state: SourceState, **kw: Any) -> tuple[PollResult, Any]:
    async def go() -> tuple[PollResult, Any]:
        async with make_pool(FakeClock()) as pool:
            return await poll_once(github, spec(server, kind, **kw), pool, state)
    return run(go)  # type: ignore[no-any-return]


def new_release(like: dict[str, Any], number: int, tag: str, *, pre: bool = False) -> dict[str, Any]:
    item = copy.deepcopy(like)
    item.update(id=number, tag_name=tag, name=f"Version {tag}", prerelease=pre,
                body=f"## What's changed\r\n\r\n* everything in {tag}",
                published_at="2022-01-20T10:00:00Z", created_at="2022-01-20T09:59:00Z",
                html_url=f"https://github.com/{REPO}/releases/tag/{tag}")
    return item


def test_keys_keep_issue_cursors_and_v0_meaning(httpserver: HTTPServer) -> None:
    """Releases and tags are off unless asked; asked, each kind has its own key."""
    plain = github.instances("github", github.Config(repos=[REPO]), None)  # type: ignore[arg-type]
    assert [s.key for s in plain] == [f"github:{REPO}"]
    both = github.instances("github", github.Config(
        repos=[REPO], monitor={"issues": True, "pulls": True, "releases": True, "tags": True}),
        None)  # type: ignore[arg-type]
    assert [s.key for s in both] == [f"github:{REPO}", f"github-releases:{REPO}",
                                     f"github-tags:{REPO}"]
    assert [s.key for s in github.instances("github", section(httpserver), None)] == [  # type: ignore[arg-type]
        f"github-releases:{REPO}", f"github-tags:{REPO}"]


def test_release_baseline_then_published_edited_promoted_deleted(httpserver: HTTPServer) -> None:
    releases = recorded_releases()
    fake = FakeList(httpserver, "releases", releases)
    state = SourceState()
    result, client = poll(httpserver, "releases", state)
    assert result.events == [] and len(result.snapshots) == 10
    assert client.statuses == Counter({200: 1})
    assert fake.requests[0].args["per_page"] == "30"

    # nothing changed: a 304 costs one request and changes nothing
    result, client = poll(httpserver, "releases", state)
    assert result.events == [] and client.statuses == Counter({304: 1})
    assert fake.requests[-1].headers.get("If-None-Match")

    # a new pre-release on top, and an older release's notes edited
    releases.insert(0, new_release(releases[0], 99, "v1.56rc1", pre=True))
    releases[3]["body"] += "\r\n\r\nEdit: fixed a link."
    result, _ = poll(httpserver, "releases", state)
    kinds = [(e.event_type, e.details["tag_name"]) for e in result.events]
    assert sorted(kinds) == [("release_edited", releases[3]["tag_name"]),
                             ("release_published", "v1.56rc1")]
    published = next(e for e in result.events if e.event_type == "release_published")
    assert published.details["prerelease"] is True and published.details["author"]
    assert published.details["notes_excerpt"].startswith("## What's changed")
    assert published.url == f"https://github.com/{REPO}/releases/tag/v1.56rc1"
    assert published.labels == ("prerelease",)

    # the same page again: no repeat
    assert poll(httpserver, "releases", state)[0].events == []

    # the pre-release is promoted; then one release inside the window is deleted
    releases[0]["prerelease"] = False
    result, _ = poll(httpserver, "releases", state)
    assert [e.event_type for e in result.events] == ["release_promoted"]
    gone = releases.pop(4)
    result, _ = poll(httpserver, "releases", state)
    assert [(e.event_type, e.details["tag_name"]) for e in result.events] == [
        ("release_deleted", gone["tag_name"])]
    assert poll(httpserver, "releases", state)[0].events == []


def test_a_release_sliding_out_of_a_full_window_is_not_deleted(httpserver: HTTPServer) -> None:
    releases = recorded_releases()
    FakeList(httpserver, "releases", releases)
    state = SourceState()
    poll(httpserver, "releases", state, releases_window=5)  # a full page: more exist behind
    releases.insert(0, new_release(releases[0], 99, "v1.56"))
    result, _ = poll(httpserver, "releases", state, releases_window=5)
    # the oldest of the five slid to page two: still there, not deleted
    assert [e.event_type for e in result.events] == ["release_published"]


def test_a_malformed_release_is_quarantined_and_the_page_goes_on(httpserver: HTTPServer) -> None:
    releases = recorded_releases()
    FakeList(httpserver, "releases", releases)
    state = SourceState()
    poll(httpserver, "releases", state)
    bad = new_release(releases[0], 98, "v1.57")
    bad["prerelease"] = "yes"
    releases.insert(0, bad)
    releases.insert(0, new_release(releases[1], 99, "v1.58"))
    result, _ = poll(httpserver, "releases", state)
    assert [e.details["tag_name"] for e in result.events] == ["v1.58"]
    assert len(result.quarantined) == 1 and "prerelease" in result.quarantined[0].reason


def test_tags_baseline_then_new_tag_once(httpserver: HTTPServer) -> None:
    tags = recorded_tags()
    fake = FakeList(httpserver, "tags", tags)
    state = SourceState()
    result, _ = poll(httpserver, "tags", state)
    assert result.events == [] and len(result.snapshots) == 30
    assert poll(httpserver, "tags", state)[1].statuses == Counter({304: 1})
    tags.insert(0, {**copy.deepcopy(tags[0]), "name": "v2.6.0",
                    "commit": {"sha": "a" * 40, "url": "https://api.github.com/x"}})
    result, _ = poll(httpserver, "tags", state)
    assert [(e.event_type, e.details["tag_name"], e.details["sha"]) for e in result.events] == [
        ("tag_created", "v2.6.0", "a" * 40)]
    assert poll(httpserver, "tags", state)[0].events == []
    assert all(r.args["per_page"] == "100" for r in fake.requests)


def test_tags_on_several_pages_are_all_read(httpserver: HTTPServer) -> None:
    tags = [copy.deepcopy(t) for t in recorded_tags() * 4]  # 120 names: two pages of 100
    for n, tag in enumerate(tags):
        tag["name"] = f"v0.{n}"
    fake = FakeList(httpserver, "tags", tags)
    state = SourceState()
    result, _ = poll(httpserver, "tags", state)
    assert len(result.snapshots) == 120 and len(fake.requests) == 2
    tags.append({**copy.deepcopy(tags[0]), "name": "v9.9.9"})  # lands on the last page
    result, _ = poll(httpserver, "tags", state)
    assert [e.details["tag_name"] for e in result.events] == ["v9.9.9"]


def test_a_fault_fails_that_kind_only(httpserver: HTTPServer) -> None:
    """An HTML error page with 200 on the tags list fails the tags poll, never the releases."""
    FakeList(httpserver, "releases", recorded_releases())
    tags = FakeList(httpserver, "tags", recorded_tags())
    tags.fail = Response("<html>unicorn</html>", status=200, content_type="text/html")
    state_r, state_t = SourceState(), SourceState()
    assert len(poll(httpserver, "releases", state_r)[0].snapshots) == 10
    with pytest.raises(SourceError, match="an HTML page instead of JSON"):
        poll(httpserver, "tags", state_t)
    assert state_t.cursor is None and state_r.cursor is not None


def test_rate_limit_defers_and_5xx_fails_the_poll_without_moving_it(httpserver: HTTPServer) -> None:
    releases = FakeList(httpserver, "releases", recorded_releases())
    state = SourceState()
    poll(httpserver, "releases", state)
    cursor = dict(state.cursor or {})
    releases.fail = Response("slow down", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimited):
        poll(httpserver, "releases", state)
    releases.fail = Response("oops", status=502)
    with pytest.raises(SourceError, match="502"):
        poll(httpserver, "releases", state)
    assert state.cursor == cursor


def test_cursor_reset_to_a_date_reports_releases_published_since(httpserver: HTTPServer) -> None:
    """`mrt cursor reset --to 2020-12-01` on a key with no snapshots yet: the three releases
    published after that date are reported, the older ones recorded silently."""
    FakeList(httpserver, "releases", recorded_releases())
    state = SourceState(cursor=cursor_at("github", datetime(2020, 12, 1, tzinfo=UTC)))
    result, _ = poll(httpserver, "releases", state)
    assert [e.details["tag_name"] for e in result.events] == ["v1.54.1", "v1.54.0.1", "v1.55"]
    assert len(result.snapshots) == 10
    assert poll(httpserver, "releases", state)[0].events == []


def test_a_release_turned_malformed_is_quarantined_not_deleted(httpserver: HTTPServer) -> None:
    releases = recorded_releases()
    FakeList(httpserver, "releases", releases)
    state = SourceState()
    poll(httpserver, "releases", state)
    releases[2]["tag_name"] = None
    result, _ = poll(httpserver, "releases", state)
    assert result.events == [] and len(result.quarantined) == 1


def test_a_malformed_tag_is_quarantined_and_the_rest_reported(httpserver: HTTPServer) -> None:
    tags = recorded_tags()
    FakeList(httpserver, "tags", tags)
    state = SourceState()
    poll(httpserver, "tags", state)
    tags.insert(0, {"name": "v3.0.0", "commit": None})
    tags.insert(0, {**copy.deepcopy(tags[1]), "name": "v3.0.1"})
    result, _ = poll(httpserver, "tags", state)
    assert [e.details["tag_name"] for e in result.events] == ["v3.0.1"]
    (bad,) = result.quarantined
    assert bad.item_key == "tag v3.0.0" and '"commit"' in bad.reason
