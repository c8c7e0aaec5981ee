"""npm packages over loopback, served from the recorded abbreviated packument (mutated per test)."""

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
    spec_for,
)
from werkzeug import Request, Response

from mrt.errors import RateLimited, SourceError
from mrt.sources import npm

PACKAGE = "tiny-tarball"


class FakeRegistry:
    """`/{package}`: the abbreviated document when asked for it, the full one otherwise."""

    def __init__(self, server: HTTPServer, doc: dict[str, Any], *, path: str = f"/{PACKAGE}"
                 ) -> None:
        self.doc = doc
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.answer: Response | None = None
        server.expect_request(path).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        response = self._answer(request)
        self.statuses.append(response.status_code)
        return response

    def _answer(self, request: Request) -> Response:
        if self.answer is not None:
            return self.answer
        assert "application/vnd.npm.install-v1+json" in request.headers["Accept"]
        return json_response(request, self.doc)

    def publish(self, version: str, *, tag: str | None = "latest") -> None:
        entry = copy.deepcopy(self.doc["versions"]["1.0.0"])
        entry["version"] = version
        entry["dist"]["tarball"] = entry["dist"]["tarball"].replace("1.0.0", version)
        self.doc["versions"][version] = entry
        if tag:
            self.doc["dist-tags"][tag] = version
        self.doc["modified"] = "2026-11-22T08:00:00.000Z"


def recorded() -> dict[str, Any]:
    return copy.deepcopy(load(f"npm/npm_packument_abbreviated_{PACKAGE}.json"))


def section(server: HTTPServer, packages: list[str] | None = None) -> npm.Config:
    return npm.Config(packages=packages or [PACKAGE], base_url=server.url_for("/"))


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.event_id) for e in result.events]


def test_baseline_new_version_tag_move_deprecation_and_304(httpserver: HTTPServer) -> None:
    fake = FakeRegistry(httpserver, recorded())
    state = SourceState()
    spec = spec_for(npm, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(npm, spec, pool, state)
            assert base.events == [] and state.snapshots[PACKAGE] == {
                "versions": ["1.0.0"], "dist_tags": {"latest": "1.0.0"}, "deprecated": {}}
            assert base.cursor == {"modified": "2015-05-16T22:27:54Z"}

            fake.publish("1.1.0", tag="next")
            fake.publish("1.2.0")
            second, client = await poll_once(npm, spec, pool, state)
            assert kinds(second) == [("version_published", "1.1.0"),
                                     ("version_published", "1.2.0"),
                                     ("dist_tag_moved", "latest:1.2.0"),
                                     ("dist_tag_moved", "next:1.1.0")]
            moved = second.events[2]
            assert moved.title == f"{PACKAGE} latest → 1.2.0"
            assert moved.summary == "latest moved from 1.0.0 to 1.2.0"
            assert moved.details["previous"] == "1.0.0" and moved.details["tag"] == "latest"
            assert second.events[1].details["tarball"].endswith("tiny-tarball-1.2.0.tgz")
            assert second.cursor == {"modified": "2026-11-22T08:00:00Z"}

            fake.doc["versions"]["1.1.0"]["deprecated"] = "use 1.2.0"
            fake.doc["dist-tags"]["latest"] = "1.1.0"  # rolled back
            third, _ = await poll_once(npm, spec, pool, state)
            assert kinds(third) == [("dist_tag_moved", "latest:1.1.0"),
                                    ("version_deprecated", "1.1.0:deprecated")]
            assert third.events[1].summary == "use 1.2.0"

            fourth, client = await poll_once(npm, spec, pool, state)
            assert fourth.events == [] and client.statuses == Counter({304: 1})

    run(go)
    assert "If-None-Match" in fake.requests[3].headers


def test_a_scoped_name_is_asked_with_its_slash_encoded(httpserver: HTTPServer) -> None:
    doc = recorded()
    doc["name"] = "@acme/tiny"
    fake = FakeRegistry(httpserver, doc, path="/@acme/tiny")  # werkzeug decodes the path
    state = SourceState()
    spec = spec_for(npm, section(httpserver, ["@acme/tiny"]))
    assert spec.key == "npm:@acme/tiny"

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(npm, spec, pool, state)
            fake.publish("2.0.0")
            second, _ = await poll_once(npm, spec, pool, state)
            assert kinds(second)[0] == ("version_published", "2.0.0")
            assert second.events[0].url == "https://www.npmjs.com/package/@acme/tiny/v/2.0.0"

    run(go)
    assert fake.requests and fake.requests[0].environ["RAW_URI"].startswith("/@acme%2ftiny")


def test_a_malformed_version_is_quarantined_and_the_rest_is_read(httpserver: HTTPServer) -> None:
    fake = FakeRegistry(httpserver, recorded())
    state = SourceState()
    spec = spec_for(npm, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(npm, spec, pool, state)
            fake.doc["versions"]["1.5.0"] = "not an object"
            fake.publish("1.6.0", tag=None)
            second, _ = await poll_once(npm, spec, pool, state)
            assert kinds(second) == [("version_published", "1.6.0")]
            (bad,) = second.quarantined
            assert bad.item_key == "version:1.5.0"
            assert bad.reason == (f'npm:{PACKAGE} version 1.5.0: field "versions.1.5.0": '
                                  'expected a JSON object, found "not an object"')

    run(go)


@pytest.mark.parametrize("answer, error", [
    (Response("<html>Cloudflare: checking your browser</html>", status=200,
              content_type="text/html"), "an HTML page instead of JSON"),
    (Response('{"error": "Not found"}', status=200, content_type="application/json"),
     "expected a package document with `versions`"),
    (Response("slow down", status=429, headers={"Retry-After": "3600"}), "rate limit"),
    (Response("oops", status=502), "HTTP 502"),
    (Response('{"info": {"name": "cut', status=200, content_type="application/json"),
     "truncated or invalid JSON"),
])
def test_faults_fail_or_defer_the_poll(httpserver: HTTPServer, answer: Response,
                                       error: str) -> None:
    fake = FakeRegistry(httpserver, recorded())
    fake.answer = answer
    state = SourceState(cursor={"modified": "2015-05-16T22:27:54Z"})
    spec = spec_for(npm, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(npm, spec, pool, state)

    expected = RateLimited if answer.status_code == 429 else SourceError
    with pytest.raises(expected) as raised:
        run(go)
    assert error in str(raised.value)
    assert state.cursor == {"modified": "2015-05-16T22:27:54Z"}
