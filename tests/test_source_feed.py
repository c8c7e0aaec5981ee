"""The generic feed source over loopback, fed with recorded feeds (GitHub releases.atom, PyPI RSS):
baseline, entry_published, entry_updated (content or updated time), 304, clean text from HTML,
identity id/guid/link, quarantine, a 200 HTML page, cursor reset, hostile text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from feed_support import OTO_ATOM, SIUN_RSS, FakeFeed, atom_entry
from hostile_items import hostile_strings
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, SourceState, make_pool, poll_once, run, spec_for

from mrt.errors import UpstreamChanged
from mrt.sources.feeds import feed

LATER = T0 + timedelta(hours=1)


def section(server: HTTPServer, path: str = "/oto.atom", **kw: object) -> feed.Config:
    return feed.Config(feeds=[feed.FeedRef(url=server.url_for(path), name="oto")],
                       **kw)  # type: ignore[arg-type]


def test_baseline_then_published_updated_and_304(httpserver: HTTPServer) -> None:
    fake = FakeFeed(OTO_ATOM.read_bytes(), modified=T0).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(feed, spec, pool, state)
            assert spec.key == "feed:oto"
            assert base.events == [] and base.fetched == 10 and len(base.snapshots) == 10
            assert base.cursor == {"after": "2021-12-27T09:06:05Z"}

            quiet, client = await poll_once(feed, spec, pool, state)
            assert quiet.events == [] and fake.statuses[-1] == 304 and client.requests == 1
            assert fake.conditional[-1] == (fake.etag, "Sun, 22 Nov 2026 09:00:00 GMT")

            fake.add_atom(atom_entry("tag:github.com,2008:Repository/90259571/v2.1.0",
                                     "v2.1.0", LATER, "<p>Stable &amp; <b>fast</b><br/>now</p>"))
            fake.replace("&lt;p&gt;js: Reduce allocations&lt;/p&gt;",
                         "&lt;p&gt;js: Reduce allocations (edited)&lt;/p&gt;")
            fake.modified = LATER
            second, _ = await poll_once(feed, spec, pool, state)
            assert [(e.event_type, e.title) for e in second.events] == [
                ("entry_updated", "v2.1.0-alpha.4"), ("entry_published", "v2.1.0")]
            published = second.events[1]
            assert published.summary == "Stable & fast now"  # HTML reduced to clean text
            assert published.url == "https://example.org/tag:github.com,2008:Repository/90259571/v2.1.0"
            assert published.resource_id == "tag:github.com,2008:Repository/90259571/v2.1.0"
            assert published.author == "someone" and published.occurred_at == LATER
            assert second.cursor == {"after": "2026-11-22T10:00:00Z"}

            again, _ = await poll_once(feed, spec, pool, state)
            assert again.events == []

            # an edit that moves only the updated time is an update too
            fake.replace("<updated>2026-11-22T10:00:00Z</updated>",
                         "<updated>2026-11-22T11:00:00Z</updated>")
            bumped, _ = await poll_once(feed, spec, pool, state)
            assert [(e.event_type, e.title) for e in bumped.events] == [
                ("entry_updated", "v2.1.0")]
            assert bumped.events[0].event_id.endswith("@2026-11-22T11:00:00Z")

    run(go)


def test_rss_items_are_known_by_guid_else_link(httpserver: HTTPServer) -> None:
    fake = FakeFeed(SIUN_RSS.read_bytes(), content_type="application/rss+xml").install(
        httpserver, "/siun.xml")
    spec = spec_for(feed, section(httpserver, "/siun.xml"))
    state = SourceState()
    item = ("<item><title>1.6.0</title><link>https://pypi.org/project/siun/1.6.0/</link>"
            "<description>Report urgency</description>"
            "<pubDate>Sun, 22 Nov 2026 10:00:00 GMT</pubDate></item>"
            "<item><guid isPermaLink=\"false\">siun-1.6.0rc1</guid><title>1.6.0rc1</title>"
            "<link>https://pypi.org/project/siun/1.6.0rc1/</link>"
            "<pubDate>Sun, 22 Nov 2026 09:30:00 GMT</pubDate></item>")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(feed, spec, pool, state)
            assert base.events == [] and base.fetched == 3
            fake.replace("<item>", item + "<item>")
            second, _ = await poll_once(feed, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in second.events] == [
                ("entry_published", "siun-1.6.0rc1"),
                ("entry_published", "https://pypi.org/project/siun/1.6.0/")]

    run(go)


def test_an_entry_without_id_guid_or_link_is_quarantined_the_rest_goes_on(
    httpserver: HTTPServer,
) -> None:
    fake = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(feed, spec, pool, state)
            fake.add_atom(atom_entry("good-one", "good", LATER))
            fake.add_atom(f"<entry><title>no identity</title><updated>{LATER:%Y-%m-%dT%H:%M:%SZ}"
                          "</updated></entry>")
            second, _ = await poll_once(feed, spec, pool, state)
            assert [e.title for e in second.events] == ["good"]
            (bad,) = second.quarantined
            assert bad.reason.startswith("feed:oto entry 'no identity'"), bad.reason
            assert "id" in bad.reason and bad.item_key.startswith("sha256:")

    run(go)


@pytest.mark.parametrize("body, ctype, words", [
    (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html", "an HTML page"),
    (b'{"not": "a feed"}', "application/json", "not an RSS, Atom or RDF feed"),
])
def test_a_200_that_is_not_a_feed_fails_the_poll(httpserver: HTTPServer, body: bytes,
                                                  ctype: str, words: str) -> None:
    FakeFeed(body, content_type=ctype).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(UpstreamChanged, match=words):
                await poll_once(feed, spec, pool, SourceState())

    run(go)


def test_cursor_reset_replays_entries_after_the_date(httpserver: HTTPServer) -> None:
    FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(feed, spec, pool, state)
            state.cursor = feed.cursor_since(T0.replace(year=2021, month=11, day=1))
            state.validators = {}
            replay, _ = await poll_once(feed, spec, pool, state)
            assert [e.title for e in replay.events] == ["v2.1.0-alpha.4", "v2.1.0-alpha.5"]
            assert replay.cursor == {"after": "2021-12-27T09:06:05Z"}  # replay is spent
            state.validators = {}
            after, _ = await poll_once(feed, spec, pool, state)
            assert after.events == []

    run(go)


def test_hostile_titles_and_summaries_arrive_as_valid_plain_text(httpserver: HTTPServer) -> None:
    fake = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))
    state = SourceState()
    strings = hostile_strings()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(feed, spec, pool, state)
            for index, text in enumerate(strings.values()):
                safe = "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)  # XML 1.0
                safe = "".join(c for c in safe if not 0xD800 <= ord(c) <= 0xDFFF)
                fake.add_atom(atom_entry(f"hostile-{index}", safe or "x", LATER, safe or "x"))
            second, _ = await poll_once(feed, spec, pool, state)
            assert len(second.events) == len(strings)
            for event in second.events:
                for text in (event.title, event.summary):
                    text.encode("utf-8")  # storable
                    assert "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
                assert "\n" not in event.title

    run(go)


def test_an_entry_lost_to_a_truncated_body_is_published_when_it_shows_up(
    httpserver: HTTPServer,
) -> None:
    """A body cut short after the newest entry moves the cursor past the next one; that one,
    never seen, is still news when the whole feed comes back."""
    fake = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    spec = spec_for(feed, section(httpserver))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(feed, spec, pool, state)
            fake.add_atom(atom_entry("second", "second", LATER))
            fake.add_atom(atom_entry("first", "first", LATER + timedelta(hours=1)))
            whole = fake.body
            fake.body = whole[: whole.index(b"<entry><id>second")]
            cut, _ = await poll_once(feed, spec, pool, state)
            assert [e.title for e in cut.events] == ["first"]
            fake.body = whole
            full, _ = await poll_once(feed, spec, pool, state)
            assert [e.title for e in full.events] == ["second"]

    run(go)
