"""GitHub releases and tags without a token: the recorded `releases.atom` of hajimehoshi/oto
served over loopback as github.com would, edited to add, change and drop entries."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import UPSTREAM, FakeClock, SourceState, etag_of, make_pool, poll_once, run
from werkzeug import Request, Response

from mrt.errors import SourceError
from mrt.source_kit.contract import PollResult, SourceSpec
from mrt.sources import github

REPO = "hajimehoshi/oto"
FEED = (UPSTREAM / "github" / "releases_atom_hajimehoshi_oto.xml").read_text(encoding="utf-8")
NEW_ENTRY = """<entry>
        <id>tag:github.com,2008:Repository/90259571/v2.1.0</id>
        <updated>2022-01-09T10:00:00Z</updated>
        <link rel="alternate" type="text/html" href="https://github.com/hajimehoshi/oto/releases/tag/v2.1.0"/>
        <title>v2.1.0</title>
        <content type="html">&lt;p&gt;Oto v2.1.0 &amp;amp; &lt;b&gt;Oboe&lt;/b&gt; 1.6.1&lt;/p&gt;</content>
        <author><name>hajimehoshi</name></author>
    </entry>
    <entry>"""


class FakeSite:
    """`GET /{o}/{r}/releases.atom` and `tags.atom` with an ETag and 304, as github.com does."""

    def __init__(self, server: HTTPServer) -> None:
        self.feed = FEED
        self.requests: list[Request] = []
        self.fail: Response | None = None
        for name in ("releases", "tags"):
            server.expect_request(f"/{REPO}/{name}.atom").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        if self.fail is not None:
            return self.fail
        body = self.feed.encode()
        tag = etag_of(body)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=304, headers={"ETag": tag})
        return Response(body, content_type="application/atom+xml; charset=utf-8",
                        headers={"ETag": tag})


def spec(server: HTTPServer, kind: str, **kw: Any) -> SourceSpec:
    config = github.Config(
        repos=[REPO], token_env="GITHUB_TOKEN", site_url=server.url_for("/"),
        monitor={"issues": False, "pulls": False, "releases": True, "tags": True}, **kw)
    specs = github.instances("github", config, None)  # type: ignore[arg-type]
    return next(s for s in specs if s.key == f"github-{kind}:{REPO}")


def poll(server: HTTPServer, kind: str, state: SourceState, env: dict[str, str] | None = None,
         **kw: Any) -> tuple[PollResult, Any]:
    async def go() -> tuple[PollResult, Any]:
        async with make_pool(FakeClock()) as pool:
            return await poll_once(github, spec(server, kind, **kw), pool, state, env=env)
    return run(go)  # type: ignore[no-any-return]


def test_tokenless_releases_feed_baseline_new_edit_delete(httpserver: HTTPServer) -> None:
    site = FakeSite(httpserver)
    state = SourceState()
    result, _ = poll(httpserver, "releases", state)
    assert result.events == [] and len(result.snapshots) == 10
    assert site.requests[0].path == f"/{REPO}/releases.atom"
    assert "Authorization" not in site.requests[0].headers

    assert poll(httpserver, "releases", state)[1].statuses == Counter({304: 1})

    site.feed = FEED.replace("<entry>", NEW_ENTRY, 1)
    result, _ = poll(httpserver, "releases", state)
    (event,) = result.events
    assert (event.event_type, event.details["tag_name"]) == ("release_published", "v2.1.0")
    assert event.details["notes_excerpt"] == "Oto v2.1.0 & Oboe 1.6.1"
    assert event.details["author"] == "hajimehoshi"
    assert event.details["prerelease"] is None  # the feed does not say
    assert event.url == "https://github.com/hajimehoshi/oto/releases/tag/v2.1.0"
    assert poll(httpserver, "releases", state)[0].events == []

    site.feed = site.feed.replace("js: Reduce allocations", "js: Reduce allocations a lot")
    result, _ = poll(httpserver, "releases", state)
    assert [(e.event_type, e.details["tag_name"]) for e in result.events] == [
        ("release_edited", "v2.1.0-alpha.4")]

    start = site.feed.index("<entry>", site.feed.index("v2.1.0-alpha.4") - 200)
    site.feed = site.feed[:start] + site.feed[site.feed.index("</entry>", start) + 8:]
    result, _ = poll(httpserver, "releases", state)
    assert [(e.event_type, e.details["tag_name"]) for e in result.events] == [
        ("release_deleted", "v2.1.0-alpha.4")]


def test_an_entry_sliding_out_of_the_feed_is_not_deleted(httpserver: HTTPServer) -> None:
    site = FakeSite(httpserver)
    state = SourceState()
    poll(httpserver, "releases", state)
    last = site.feed.rindex("<entry>")
    site.feed = site.feed[:last] + site.feed[site.feed.index("</entry>", last) + 8:]
    site.feed = site.feed.replace("<entry>", NEW_ENTRY, 1)
    result, _ = poll(httpserver, "releases", state)
    assert [e.event_type for e in result.events] == ["release_published"]


def test_tags_feed_reports_a_new_tag_once(httpserver: HTTPServer) -> None:
    site = FakeSite(httpserver)
    state = SourceState()
    assert poll(httpserver, "tags", state)[0].events == []
    site.feed = FEED.replace("<entry>", NEW_ENTRY, 1)
    result, _ = poll(httpserver, "tags", state)
    assert [(e.event_type, e.details["tag_name"]) for e in result.events] == [
        ("tag_created", "v2.1.0")]
    assert site.requests[-1].path == f"/{REPO}/tags.atom"
    assert poll(httpserver, "tags", state)[0].events == []


def test_a_token_switches_to_the_api_with_a_silent_baseline(httpserver: HTTPServer) -> None:
    FakeSite(httpserver)
    from test_source_github_releases import FakeList, recorded_releases

    api = FakeList(httpserver, "releases", recorded_releases(), repo=REPO)
    state = SourceState()
    poll(httpserver, "releases", state)
    assert state.cursor is not None and state.cursor["via"] == "atom"
    result, _ = poll(httpserver, "releases", state, env={"GITHUB_TOKEN": "ghp_x"},
                     base_url=httpserver.url_for("/"))
    # other keys, other list: a new silent baseline rather than ten "new" and ten "deleted"
    assert result.events == [] and state.cursor["via"] == "api" and len(api.requests) == 1
    assert api.requests[0].headers["Authorization"] == "Bearer ghp_x"


def test_an_html_page_instead_of_the_feed_fails_the_poll(httpserver: HTTPServer) -> None:
    site = FakeSite(httpserver)
    site.fail = Response("<html><body>Unicorn!</body></html>", content_type="text/html")
    state = SourceState()
    with pytest.raises(SourceError, match="text/html, not an Atom feed"):
        poll(httpserver, "releases", state)
    assert state.cursor is None


def test_via_api_forces_the_rest_api_without_a_token(httpserver: HTTPServer) -> None:
    from test_source_github_releases import FakeList, recorded_releases

    api = FakeList(httpserver, "releases", recorded_releases(), repo=REPO)
    poll(httpserver, "releases", SourceState(), releases_via="api",
         base_url=httpserver.url_for("/"))
    assert len(api.requests) == 1




def test_an_edited_entry_then_sliding_out_is_not_called_deleted(httpserver: HTTPServer) -> None:
    """The oldest entry is edited (its `updated` jumps to now), then a new release pushes it
    out of the feed: it slid out, it was not deleted (positions, not times, decide)."""
    site = FakeSite(httpserver)
    state = SourceState()
    poll(httpserver, "releases", state)
    last = site.feed.rindex("<entry>")
    updated = site.feed.index("<updated>", last)
    site.feed = (site.feed[:updated] + "<updated>2022-01-05T00:00:00Z</updated>"
                 + site.feed[site.feed.index("</updated>", updated) + 10:])
    poll(httpserver, "releases", state)
    last = site.feed.rindex("<entry>")
    site.feed = site.feed[:last] + site.feed[site.feed.index("</entry>", last) + 8:]
    site.feed = site.feed.replace("<entry>", NEW_ENTRY, 1)
    result, _ = poll(httpserver, "releases", state)
    assert [e.event_type for e in result.events] == ["release_published"]
