"""GitLab over loopback, served from documentation-built payloads (tests/fixtures/upstream/gitlab)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

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
from mrt.sources import gitlab

PROJECT = "my-group/sub/my-project"
ENCODED = "/api/v4/projects/my-group%2Fsub%2Fmy-project"


class FakeGitLab:
    """The four list endpoints of one project; issues and MRs filtered by `updated_after`,
    paged by `page`/`per_page` with Link `next` (or only `x-next-page` when `links` is off)."""

    def __init__(self, server: HTTPServer, *, links: bool = True) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {
            "issues": load("gitlab/issues.json"), "merge_requests": load("gitlab/merge_requests.json"),
            "releases": load("gitlab/releases.json"), "repository/tags": load("gitlab/tags.json")}
        self.requests: list[Request] = []
        self.answer: Response | None = None
        self.links = links
        self.server = server
        for path in self.items:
            server.expect_request(f"/api/v4/projects/my-group/sub/my-project/{path}"
                                  ).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        assert request.environ["RAW_URI"].startswith(ENCODED)  # the path as one segment
        if self.answer is not None:
            return self.answer
        path = request.path.split("/my-project/", 1)[1]
        items = list(self.items[path])
        after = request.args.get("updated_after")
        if after:
            items = [i for i in items if i["updated_at"] >= after]
        if "order_by" in request.args:
            items.sort(key=lambda i: i["updated_at"], reverse=request.args.get("sort") == "desc")
        size, number = int(request.args.get("per_page", 20)), int(request.args.get("page", 1))
        chunk = items[(number - 1) * size:number * size]
        headers = {}
        if number * size < len(items) and self.links:  # as keyset pagination: Link only
            query = "&".join(f"{k}={v}" for k, v in request.args.items() if k != "page")
            path = request.environ["RAW_URI"].split("?")[0]
            headers["Link"] = f'<{self.server.url_for(path)}?{query}&page={number + 1}>; rel="next"'
        elif number * size < len(items):
            headers["x-next-page"] = str(number + 1)
        return json_response(request, chunk, headers)

    def add(self, path: str, template: int = 0, **changes: Any) -> dict[str, Any]:
        item = copy.deepcopy(self.items[path][template])
        item.update(changes)
        self.items[path].append(item)
        return item


def section(server: HTTPServer, **monitor: bool) -> gitlab.Config:
    return gitlab.Config.model_validate({"projects": [PROJECT], "base_url": server.url_for("/"),
                                         "token_env": "GL_TOKEN", "monitor": monitor})


def spec(server: HTTPServer, kind: str) -> Any:
    flags = {"issues": kind == "issues", "merge_requests": kind == "mrs",
             "releases": kind == "releases", "tags": kind == "tags"}
    (only,) = gitlab.instances("gitlab", section(server, **flags), None)  # type: ignore[arg-type]
    return only


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.event_id) for e in result.events]


ENV = {"GL_TOKEN": "glpat-secret"}


def test_instances_one_key_per_kind_with_releases_and_tags_off_by_default(httpserver: HTTPServer) -> None:
    config = gitlab.Config.model_validate({"projects": [PROJECT]})
    assert [s.key for s in gitlab.instances("gitlab", config, None)] == [  # type: ignore[arg-type]
        f"gitlab-issues:{PROJECT}", f"gitlab-mrs:{PROJECT}"]


def test_issues_baseline_then_each_event_then_304_with_the_token_header(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver)
    state, one = SourceState(), spec(httpserver, "issues")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(gitlab, one, pool, state, env=ENV)
            assert base.events == [] and state.snapshots["#6"]["state"] == "opened"
            assert base.cursor == {"since": "2016-01-04T15:31:51Z"}
            fake.add("issues", iid=7, state="opened", created_at="2016-02-01T00:00:00Z",
                     updated_at="2016-02-01T00:00:00Z", title="new one")
            fake.items["issues"][0].update(state="closed", updated_at="2016-02-02T00:00:00Z")
            second, _ = await poll_once(gitlab, one, pool, state, env=ENV)
            assert kinds(second) == [("issue_opened", "#7:2016-02-01T00:00:00Z"),
                                     ("issue_closed", "#6:2016-02-02T00:00:00Z")]
            assert second.events[0].title == f"{PROJECT}#7 new one"
            fake.items["issues"][0].update(state="opened", updated_at="2016-02-03T00:00:00Z")
            fake.items["issues"][1].update(title="renamed", updated_at="2016-02-04T00:00:00Z")
            third, _ = await poll_once(gitlab, one, pool, state, env=ENV)
            assert kinds(third) == [("issue_reopened", "#6:2016-02-03T00:00:00Z"),
                                    ("issue_updated", "#7:2016-02-04T00:00:00Z")]
            fourth, _ = await poll_once(gitlab, one, pool, state, env=ENV)
            assert fourth.events == []  # the boundary item, seen at this very update
            fifth, client = await poll_once(gitlab, one, pool, state, env=ENV)  # same query
            assert fifth.events == [] and client.statuses == Counter({304: 1})
            assert state.cursor == {"since": "2016-02-04T00:00:00Z"}

    run(go)
    assert all(r.headers["PRIVATE-TOKEN"] == "glpat-secret" for r in fake.requests)
    assert all("Authorization" not in r.headers for r in fake.requests)
    assert fake.requests[1].args["updated_after"] == "2016-01-04T15:31:51Z"
    assert fake.requests[1].args["sort"] == "asc" and "If-None-Match" in fake.requests[4].headers


@pytest.mark.parametrize("links", [True, False])
def test_merge_requests_paged_merged_closed_opened(httpserver: HTTPServer, links: bool) -> None:
    fake = FakeGitLab(httpserver, links=links)
    state, one = SourceState(), spec(httpserver, "mrs")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(gitlab, one, pool, state)
            for n in range(2, 152):  # 150 new MRs: two pages of 100
                at = f"2018-01-01T00:{n // 60:02d}:{n % 60:02d}Z"
                fake.add("merge_requests", iid=n, state="opened", created_at=at, updated_at=at)
            fake.items["merge_requests"][5].update(state="merged", updated_at="2018-02-01T00:00:00Z")
            second, _ = await poll_once(gitlab, one, pool, state)
            assert Counter(e.event_type for e in second.events) == {"mr_opened": 149, "mr_merged": 1}
            assert second.events[-1].event_id == "!6:2018-02-01T00:00:00Z"
            fake.items["merge_requests"][6].update(state="closed", updated_at="2018-02-02T00:00:00Z")
            third, _ = await poll_once(gitlab, one, pool, state)
            assert kinds(third) == [("mr_closed", "!7:2018-02-02T00:00:00Z")]

    run(go)
    assert [r.args.get("page") for r in fake.requests[1:3]] == [None, "2"]


def test_releases_and_tags_have_their_own_keys_and_report_new_names(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver)
    releases, tags = SourceState(), SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            for state, kind in ((releases, "releases"), (tags, "tags")):
                base, _ = await poll_once(gitlab, spec(httpserver, kind), pool, state)
                assert base.events == []
            fake.items["releases"].insert(0, dict(fake.items["releases"][0], tag_name="v0.3",
                                                  name="Awesome app v0.3"))
            fake.items["repository/tags"].insert(0, dict(fake.items["repository/tags"][0],
                                                         name="v1.1.0"))
            rel, _ = await poll_once(gitlab, spec(httpserver, "releases"), pool, releases)
            tag, _ = await poll_once(gitlab, spec(httpserver, "tags"), pool, tags)
            assert kinds(rel) == [("release_published", "release:v0.3")]
            assert rel.events[0].title == f"{PROJECT} Awesome app v0.3"
            assert kinds(tag) == [("tag_created", "tag:v1.1.0")]
            again, client = await poll_once(gitlab, spec(httpserver, "tags"), pool, tags)
            assert again.events == [] and client.statuses == Counter({304: 1})

    run(go)


def test_a_malformed_issue_is_quarantined_and_the_rest_is_read(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver)
    state, one = SourceState(), spec(httpserver, "issues")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(gitlab, one, pool, state)
            fake.add("issues", iid="eight", updated_at="2016-03-01T00:00:00Z")
            fake.add("issues", iid=9, created_at="2016-03-02T00:00:00Z",
                     updated_at="2016-03-02T00:00:00Z")
            second, _ = await poll_once(gitlab, one, pool, state)
            assert kinds(second) == [("issue_opened", "#9:2016-03-02T00:00:00Z")]
            (bad,) = second.quarantined
            assert bad.item_key == "#eight"
            assert 'field "iid": expected an integer' in bad.reason

    run(go)


@pytest.mark.parametrize("answer, error", [
    (Response("<html>502 Whoops, GitLab is taking too much time</html>", status=200,
              content_type="text/html"), "an HTML page instead of JSON"),
    (Response('{"message": "404 Project Not Found"}', status=200, content_type="application/json"),
     "expected a JSON list"),
    (Response("Retry later", status=429, headers={"Retry-After": "60"}), "rate limit"),
    (Response("oops", status=503), "HTTP 503"),
])
def test_faults_fail_or_defer_the_poll(httpserver: HTTPServer, answer: Response, error: str) -> None:
    fake = FakeGitLab(httpserver)
    fake.answer = answer
    state = SourceState(cursor={"since": "2016-01-04T15:31:51Z"})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(gitlab, spec(httpserver, "issues"), pool, state)

    with pytest.raises(RateLimited if answer.status_code == 429 else SourceError) as raised:
        run(go)
    assert error in str(raised.value)
    assert state.cursor == {"since": "2016-01-04T15:31:51Z"}


def test_a_next_page_on_another_origin_is_not_followed_with_the_token(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver)
    fake.answer = Response("[]", status=200, content_type="application/json",
                           headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'})
    state = SourceState(cursor={"since": "2016-01-04T15:31:51Z"})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(gitlab, spec(httpserver, "issues"), pool, state, env=ENV)

    with pytest.raises(SourceError, match="points elsewhere"):
        run(go)
    assert len(fake.requests) == 1
