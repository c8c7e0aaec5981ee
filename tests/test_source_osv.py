"""OSV over loopback with the recorded samples: baseline in one request, a new advisory, a
modification and a withdrawal each fetched and reported once, paging, reset, faults, quarantine."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from osv_support import CVSS, PACKAGE, FakeOsv, recorded_listing
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, SourceState, iso, make_pool, poll_once, run, spec_for
from werkzeug import Response

from mrt.errors import RateLimited, SourceError
from mrt.sources import osv


def section(server: HTTPServer, **kw: object) -> osv.Config:
    return osv.Config(packages=[osv.Package(**PACKAGE)], base_url=server.url_for("/"),
                      **kw)  # type: ignore[arg-type]


def test_baseline_costs_one_request_then_new_modified_withdrawn_each_once(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))
    newest = max(item["modified"] for item in recorded_listing())

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(osv, spec, pool, state)
            assert base.events == [] and len(base.snapshots) == 4
            assert client.requests == 1 and upstream.requests == [("POST", "/v1/querybatch")]
            assert base.cursor == {"modified_after": newest.replace(".389429", "")
                                   .replace(".516821", "")}
            # nothing changed: one request, no fetch of any advisory
            quiet, client = await poll_once(osv, spec, pool, state)
            assert quiet.events == [] and client.requests == 1
            # a new advisory for vllm
            upstream.publish("GHSA-xxxx-new1-0001", T0, aliases=("CVE-2026-0001",))
            fresh, client = await poll_once(osv, spec, pool, state)
            assert client.requests == 2
            (event,) = fresh.events
            assert (event.event_type, event.resource_id) == ("advisory_published",
                                                             "GHSA-xxxx-new1-0001")
            assert event.details["aliases"] == ["CVE-2026-0001"]
            assert event.details["severity"] == "HIGH" and event.details["cvss"] == [
                f"CVSS_V3 {CVSS}"]
            assert event.details["affected"][0]["package"] == "vllm (PyPI)"
            assert "introduced 0.5.0, fixed 0.6.1" in event.summary
            assert "CVE-2026-0001" in event.summary and "severity HIGH" in event.summary
            assert event.details["references"]
            # a modification of a recorded one, then its withdrawal
            upstream.modify("GHSA-vqj2-4v8m-8vrq", T0 + timedelta(hours=1),
                            summary="now with a fix")
            changed, _ = await poll_once(osv, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in changed.events] == [
                ("advisory_modified", "GHSA-vqj2-4v8m-8vrq")]
            upstream.modify("GHSA-vqj2-4v8m-8vrq", T0 + timedelta(hours=2),
                            withdrawn=iso(T0 + timedelta(hours=2)))
            gone, _ = await poll_once(osv, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in gone.events] == [
                ("advisory_withdrawn", "GHSA-vqj2-4v8m-8vrq")]
            again, client = await poll_once(osv, spec, pool, state)
            assert again.events == [] and client.requests == 1
            assert state.cursor == {"modified_after": iso(T0 + timedelta(hours=2))}

    run(go)


def test_paged_batch_results_are_followed_with_page_token(httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver, page_size=2)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(osv, spec, pool, state)
            assert len(base.snapshots) == 4 and client.requests == 2

    run(go)


def test_cursor_reset_reports_advisories_modified_after_the_date_again(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(osv, spec, pool, state)
            state.cursor = osv.cursor_since(T0.replace(year=2023, month=3, day=20))
            replay, _ = await poll_once(osv, spec, pool, state)
            assert sorted(e.resource_id for e in replay.events) == [
                "GHSA-wp72-7hj9-5265", "GHSA-xg73-94fp-g449"]
            assert "replay_after" not in state.cursor
            after, _ = await poll_once(osv, spec, pool, state)
            assert after.events == []

    run(go)


def test_malformed_listing_items_and_records_are_quarantined_not_fatal(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(osv, spec, pool, state)
            upstream.publish("GHSA-good-0000-0001", T0)
            upstream.publish("GHSA-bad0-0000-0002", T0)
            upstream.records["GHSA-bad0-0000-0002"]["modified"] = "yesterday-ish"
            listing = [{"id": r["id"], "modified": r["modified"]}
                       for r in upstream.records.values()]
            listing[-1]["modified"] = iso(T0)  # listed fine, record malformed
            upstream.listing_override = [*listing, {"id": 42}, "not an object"]
            result, _ = await poll_once(osv, spec, pool, state)
            assert [e.resource_id for e in result.events] == ["GHSA-good-0000-0001"]
            reasons = sorted(q.reason for q in result.quarantined)
            assert len(reasons) == 3
            assert any("GHSA-bad0-0000-0002" in r and "modified" in r for r in reasons)

    run(go)


@pytest.mark.parametrize("answer, error", [
    (Response("slow down", status=429, headers={"Retry-After": "120"}), RateLimited),
    (Response("oops", status=503), SourceError),
    (Response("<html><body>Sign in</body></html>", status=200, content_type="text/html"),
     SourceError),
])
def test_faults_raise_for_this_source(httpserver: HTTPServer, answer: Response,
                                      error: type[Exception]) -> None:
    httpserver.expect_request("/v1/querybatch").respond_with_response(answer)
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(error):
                await poll_once(osv, spec, pool, SourceState())

    run(go)
    assert Counter(r.path for r, _ in httpserver.log) == Counter(
        {"/v1/querybatch": len(httpserver.log)})


def test_an_id_listed_but_not_yet_served_is_asked_again_not_fatal(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(osv, spec, pool, state)
            upstream.publish("GHSA-late-0000-0001", T0)
            listing = [{"id": r["id"], "modified": r["modified"]}
                       for r in upstream.records.values()]
            record = upstream.records.pop("GHSA-late-0000-0001")
            upstream.listing_override = listing  # the index lists it before it is served
            early, _ = await poll_once(osv, spec, pool, state)
            assert early.events == [] and "GHSA-late-0000-0001" in (early.degraded or "")
            upstream.records["GHSA-late-0000-0001"] = record
            later, _ = await poll_once(osv, spec, pool, state)
            assert [e.resource_id for e in later.events] == ["GHSA-late-0000-0001"]

    run(go)


def test_odd_but_harmless_fields_go_through_made_valid_and_bounded(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(osv, spec, pool, state)
            upstream.publish("GHSA-odd0-0000-0001", T0, aliases=("CVE-2026-7",))
            record = upstream.records["GHSA-odd0-0000-0001"]
            record.update(summary="bad \ud800 text", references=[
                {"type": "WEB", "url": f"https://example.org/{n}"} for n in range(200)])
            record["aliases"].append(42)
            record["severity"].append("not an object")
            result, _ = await poll_once(osv, spec, pool, state)
            (event,) = result.events
            event.title.encode("utf-8")  # valid text: no lone surrogate left
            assert event.details["aliases"] == ["CVE-2026-7"]
            assert len(event.details["references"]) == osv.MAX_REFERENCES
            assert event.details["cvss"] == [f"CVSS_V3 {CVSS}"]

    run(go)


def test_a_backfill_reports_what_changed_after_its_date_and_records_the_rest(
        httpserver: HTTPServer) -> None:
    upstream = FakeOsv(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(osv, section(httpserver, backfill="since 2023-03-20"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first, client = await poll_once(osv, spec, pool, state)
            assert sorted((e.event_type, e.resource_id) for e in first.events) == [
                ("advisory_modified", "GHSA-wp72-7hj9-5265"),
                ("advisory_modified", "GHSA-xg73-94fp-g449")]
            assert client.requests == 3 and len(state.snapshots) == 4
            second, client = await poll_once(osv, spec, pool, state)
            assert second.events == [] and client.requests == 1

    run(go)
