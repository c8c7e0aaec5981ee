"""PyPI projects over loopback, served from the recorded JSON API payloads (mutated per test)."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
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
from mrt.sources import pypi

PROJECT = "azure-cli-monitor"


class FakePyPI:
    """`/pypi/{project}/json`: the recording, changed by the test; ETag or Last-Modified."""

    def __init__(self, server: HTTPServer, doc: dict[str, Any], *, project: str = PROJECT,
                 last_modified: str | None = None) -> None:
        self.doc = doc
        self.last_modified = last_modified
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.answer: Response | None = None
        server.expect_request(f"/pypi/{project}/json").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        response = self._answer(request)
        self.statuses.append(response.status_code)
        return response

    def _answer(self, request: Request) -> Response:
        if self.answer is not None:
            return self.answer
        if self.last_modified is None:
            return json_response(request, self.doc)
        if request.headers.get("If-Modified-Since") == self.last_modified:
            return Response(status=304)
        return json_response(request, self.doc, {"Last-Modified": self.last_modified},
                             conditional=False)

    def upload(self, version: str, at: datetime, **file: Any) -> None:
        self.doc["releases"][version] = [{
            "filename": f"{PROJECT}-{version}.tar.gz", "packagetype": "sdist",
            "upload_time": at.strftime("%Y-%m-%dT%H:%M:%S"),
            "upload_time_iso_8601": at.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "requires_python": ">=3.9", "yanked": False, "yanked_reason": None, **file}]

    def yank(self, version: str, reason: str) -> None:
        for file in self.doc["releases"][version]:
            file.update(yanked=True, yanked_reason=reason)


def recorded() -> dict[str, Any]:
    return copy.deepcopy(load(f"pypi/pypi_project_json_{PROJECT}.json"))


def section(server: HTTPServer, **kw: Any) -> pypi.Config:
    return pypi.Config(projects=[PROJECT], base_url=server.url_for("/"), **kw)


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.event_id) for e in result.events]


def test_baseline_new_version_yank_and_304(httpserver: HTTPServer) -> None:
    fake = FakePyPI(httpserver, recorded())
    state = SourceState()
    spec = spec_for(pypi, section(httpserver))
    assert spec.key == f"pypi:{PROJECT}"

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(pypi, spec, pool, state)
            assert base.events == [] and base.fetched == 22
            versions = state.snapshots[PROJECT]["versions"]
            assert len(versions) == 22 and not any(versions.values())
            assert base.cursor == {"published_after": "2018-05-22T17:25:23Z"}

            fake.upload("0.1.10", T0 - timedelta(hours=1))  # PEP 440: newer than 0.1.7, 0.1.8
            fake.upload("0.1.8", T0 - timedelta(hours=2))
            fake.yank("0.1.6", "broken wheel")
            second, client = await poll_once(pypi, spec, pool, state)
            assert kinds(second) == [("version_yanked", "0.1.6:yanked"),
                                     ("version_published", "0.1.8"),
                                     ("version_published", "0.1.10")]
            yank, older, newest = second.events
            assert yank.title == f"{PROJECT} 0.1.6 yanked" and yank.summary == "broken wheel"
            assert yank.details["yanked_reason"] == "broken wheel"
            assert newest.details["is_newest"] and not older.details["is_newest"]
            assert older.details["newest"] == "0.1.10"
            assert newest.details["requires_python"] == ">=3.9"
            assert newest.details["summary"] == "Microsoft Azure Command-Line Tools Monitor Command Module"
            assert newest.url.endswith(f"/project/{PROJECT}/0.1.10/")
            assert second.cursor == {"published_after": "2026-11-22T08:00:00Z"}
            assert client.statuses == Counter({200: 1})

            third, client = await poll_once(pypi, spec, pool, state)
            assert third.events == [] and client.statuses == Counter({304: 1})
            assert third.cursor == second.cursor

    run(go)
    assert "If-None-Match" in fake.requests[2].headers


def test_last_modified_alone_makes_the_request_conditional(httpserver: HTTPServer) -> None:
    fake = FakePyPI(httpserver, recorded(), last_modified="Tue, 22 May 2018 17:25:23 GMT")
    state = SourceState()
    spec = spec_for(pypi, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(pypi, spec, pool, state)
            again, client = await poll_once(pypi, spec, pool, state)
            assert again.events == [] and client.statuses == Counter({304: 1})

    run(go)
    assert fake.requests[1].headers["If-Modified-Since"] == "Tue, 22 May 2018 17:25:23 GMT"


@pytest.mark.parametrize("prereleases", [False, True])
def test_prereleases_count_only_when_asked(httpserver: HTTPServer, prereleases: bool) -> None:
    fake = FakePyPI(httpserver, recorded())
    state = SourceState()
    spec = spec_for(pypi, section(httpserver, prereleases=prereleases))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(pypi, spec, pool, state)
            fake.upload("0.2.0rc1", T0 - timedelta(hours=1))
            second, _ = await poll_once(pypi, spec, pool, state)
            if prereleases:
                assert kinds(second) == [("version_published", "0.2.0rc1")]
                assert second.events[0].details["prerelease"] is True
                assert second.events[0].details["is_newest"] is True
            else:
                assert second.events == []
                assert "0.2.0rc1" not in state.snapshots[PROJECT]["versions"]

    run(go)


def test_a_malformed_version_is_quarantined_and_the_rest_is_read(httpserver: HTTPServer) -> None:
    fake = FakePyPI(httpserver, recorded())
    state = SourceState()
    spec = spec_for(pypi, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(pypi, spec, pool, state)
            fake.doc["releases"]["not a version!"] = []
            fake.doc["releases"]["0.3.0"] = {"files": "not a list"}
            fake.upload("0.3.1", T0 + timedelta(days=30))  # a clock far ahead of ours
            fake.upload("0.2.0", T0 - timedelta(hours=1))
            second, _ = await poll_once(pypi, spec, pool, state)
            assert kinds(second) == [("version_published", "0.2.0")]
            reasons = sorted(q.reason for q in second.quarantined)
            assert reasons == [
                f'pypi:{PROJECT} version 0.3.0: field "files": expected a JSON list of files, '
                'found {"files": "not a list"}',
                f'pypi:{PROJECT} version 0.3.1: field "upload_time_iso_8601": expected a time '
                'before 2026-11-23T09:00:00Z (a day after this host\'s clock), found '
                '"2026-12-22T09:00:00.000000Z"',
                f'pypi:{PROJECT} version not a version!: field "version": expected a PEP 440 '
                'version, found "not a version!"',
            ]
            assert "0.2.0" in state.snapshots[PROJECT]["versions"]

    run(go)


def test_cursor_reset_reports_versions_uploaded_after_the_date(httpserver: HTTPServer) -> None:
    FakePyPI(httpserver, recorded())
    state = SourceState()
    spec = spec_for(pypi, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(pypi, spec, pool, state)
            state.cursor = {**pypi.cursor_since(datetime(2018, 5, 1, tzinfo=T0.tzinfo)),
                            "reset_to": "2018-05-01T00:00:00Z"}
            state.validators = {}
            again, _ = await poll_once(pypi, spec, pool, state)
            # 0.1.6 and 0.1.7 were uploaded in May 2018 (0.1.5 on April 10th)
            assert [e.event_id for e in again.events] == ["0.1.6", "0.1.7"]
            assert again.cursor == {"published_after": "2018-05-22T17:25:23Z"}

    run(go)


def test_the_docs_example_gives_details_and_a_version_without_files(httpserver: HTTPServer) -> None:
    doc = copy.deepcopy(load("pypi/pypi_project_json_sampleproject_DOCS_EXAMPLE.json"))
    fake = FakePyPI(httpserver, doc, project="sampleproject")
    state = SourceState()
    spec = spec_for(pypi, pypi.Config(projects=["SampleProject"], base_url=httpserver.url_for("/")))
    assert spec.key == "pypi:sampleproject"

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(pypi, spec, pool, state)
            # the docs elide four releases' files as "...": each is put aside, the rest read
            assert sorted(q.item_key for q in base.quarantined) == [
                "version:1.3.0", "version:1.3.1", "version:2.0.0", "version:3.0.0"]
            assert 'field "files[]": expected a JSON object, found "..."' in \
                base.quarantined[0].reason
            assert sorted(state.snapshots["sampleproject"]["versions"]) == ["1.0", "1.2.0",
                                                                            "4.0.0"]
            fake.doc["releases"]["5.0.0"] = fake.doc["releases"].pop("4.0.0")
            fake.doc["info"]["version"] = "5.0.0"
            second, _ = await poll_once(pypi, spec, pool, state)
            (event,) = second.events
            assert event.event_id == "5.0.0" and event.details["is_newest"]
            assert event.details["requires_python"] == ">=3.9"
            assert event.details["project_urls"]["Source"] == "https://github.com/pypa/sampleproject/"

    run(go)


@pytest.mark.parametrize("answer, error", [
    (Response("<html><body>Service Unavailable</body></html>", status=200,
              content_type="text/html"), "an HTML page instead of JSON"),
    (Response("{}", status=200, content_type="application/json"), "`info` and `releases`"),
    (Response("slow down", status=429, headers={"Retry-After": "3600"}), "rate limit"),
    (Response("oops", status=503), "HTTP 503"),
    (Response('{"info": {"name": "cut', status=200, content_type="application/json"),
     "truncated or invalid JSON"),
])
def test_faults_fail_or_defer_the_poll(httpserver: HTTPServer, answer: Response,
                                       error: str) -> None:
    fake = FakePyPI(httpserver, recorded())
    fake.answer = answer
    state = SourceState(cursor={"published_after": "2018-05-22T17:25:23Z"})
    spec = spec_for(pypi, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(pypi, spec, pool, state)

    expected = RateLimited if answer.status_code == 429 else SourceError
    with pytest.raises(expected) as raised:
        run(go)
    assert error in str(raised.value)
    assert state.cursor == {"published_after": "2018-05-22T17:25:23Z"}


def test_backfill_reports_the_versions_uploaded_since_its_date_on_the_first_poll(
    httpserver: HTTPServer,
) -> None:
    fake = FakePyPI(httpserver, recorded())
    fake.doc["info"]["summary"] = "Monitor \ud800 module\x00"  # text no database can store
    state = SourceState()
    spec = spec_for(pypi, section(httpserver, backfill="since 2018-05-01"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first, _ = await poll_once(pypi, spec, pool, state)
            assert kinds(first) == [("version_published", "0.1.6"),
                                    ("version_published", "0.1.7")]
            assert first.events[1].summary == "Monitor \ufffd module\ufffd"
            again, _ = await poll_once(pypi, spec, pool, state)
            assert again.events == []

    run(go)
