"""GitHub security advisories over loopback with the recorded global advisory: baseline, 304,
a new advisory, an update and a withdrawal each reported once, a repository's advisories,
paging, reset, quarantine and faults."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from ghsa_support import ECOSYSTEM, PACKAGE, RECORDED_ID, REPO, FakeAdvisories, advisory
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    SourceState,
    iso,
    make_pool,
    poll_once,
    recorded_issues,
    run,
    spec_for,
)
from werkzeug import Response

from mrt.errors import RateLimited, SourceError
from mrt.sources import ghsa, github


def section(server: HTTPServer, **kw: object) -> ghsa.Config:
    return ghsa.Config(packages=[ghsa.Package(ecosystem=ECOSYSTEM, name=PACKAGE)],
                       repos=[REPO], base_url=server.url_for("/"), token_env="GITHUB_TOKEN",
                       **kw)  # type: ignore[arg-type]


def test_global_advisories_baseline_304_then_published_updated_withdrawn_once(
        httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver))
    assert spec.key == "ghsa:pip/vllm"
    env = {"GITHUB_TOKEN": "ghp_s3cret"}

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(ghsa, spec, pool, state, env=env)
            assert base.events == [] and list(base.snapshots) == [RECORDED_ID]
            assert base.cursor == {"updated_after": "2023-03-22T01:39:28Z"}
            quiet, client = await poll_once(ghsa, spec, pool, state, env=env)
            assert quiet.events == [] and client.statuses == Counter({304: 1})
            upstream.global_items.append(advisory("GHSA-vllm-0000-0001", "CVE-2026-0001", T0))
            fresh, _ = await poll_once(ghsa, spec, pool, state, env=env)
            (event,) = fresh.events
            assert (event.event_type, event.resource_id) == ("advisory_published",
                                                             "GHSA-vllm-0000-0001")
            assert event.title.startswith("GHSA-vllm-0000-0001 (CVE-2026-0001) [HIGH]: dio")
            assert event.details["cvss_score"] == 7.5
            assert event.details["cvss_vector"].startswith("CVSS:3.1/AV:N")
            assert event.details["vulnerabilities"] == [{"package": "vllm (pip)",
                                                         "vulnerable": ">= 0.5.0, < 0.6.1",
                                                         "patched": "0.6.1"}]
            assert event.url == "https://github.com/advisories/GHSA-vllm-0000-0001"
            recorded = upstream.global_items[0]
            recorded["updated_at"] = iso(T0 + timedelta(hours=1))
            updated, _ = await poll_once(ghsa, spec, pool, state, env=env)
            assert [(e.event_type, e.resource_id) for e in updated.events] == [
                ("advisory_updated", RECORDED_ID)]
            recorded.update(updated_at=iso(T0 + timedelta(hours=2)),
                            withdrawn_at=iso(T0 + timedelta(hours=2)))
            withdrawn, _ = await poll_once(ghsa, spec, pool, state, env=env)
            assert [(e.event_type, e.resource_id) for e in withdrawn.events] == [
                ("advisory_withdrawn", RECORDED_ID)]
            again, client = await poll_once(ghsa, spec, pool, state, env=env)
            assert again.events == [] and client.statuses == Counter({304: 1})

    run(go)
    first = upstream.requests[0]
    assert (first.args["ecosystem"], first.args["affects"], first.args["sort"],
            first.args["direction"]) == (ECOSYSTEM, PACKAGE, "updated", "desc")
    assert first.headers["Authorization"] == "Bearer ghp_s3cret"
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "If-None-Match" in upstream.requests[1].headers


def test_repository_advisories_report_patched_versions(httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver)
    upstream.repo_items.append(advisory("GHSA-repo-0000-0001", None, T0, repo=True))
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver), index=1)
    assert spec.key == f"ghsa:{REPO}"

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(ghsa, spec, pool, state)
            assert base.events == []
            upstream.repo_items.append(advisory("GHSA-repo-0000-0002", "CVE-2026-9", T0
                                                + timedelta(hours=1), repo=True,
                                                severity="critical"))
            fresh, _ = await poll_once(ghsa, spec, pool, state)
            (event,) = fresh.events
            assert event.details["severity"] == "critical"
            assert event.details["vulnerabilities"][0]["patched"] == "0.6.1"
            assert "[CRITICAL]" in event.title and "CVE-2026-9" in event.title

    run(go)


def test_pages_until_the_first_advisory_older_than_the_cursor(httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver, per_page_cap=2)
    for n in range(5):
        upstream.global_items.append(advisory(f"GHSA-old0-0000-000{n}", None,
                                              T0 - timedelta(days=n)))
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(ghsa, spec, pool, state)
            assert len(base.snapshots) == 5 and client.requests == 3
            for n in range(3):
                upstream.global_items.append(advisory(f"GHSA-new0-0000-000{n}", None,
                                                      T0 + timedelta(hours=n + 1)))
            fresh, client = await poll_once(ghsa, spec, pool, state)
            assert [e.resource_id for e in fresh.events] == [
                "GHSA-new0-0000-0000", "GHSA-new0-0000-0001", "GHSA-new0-0000-0002"]
            # 8 advisories, 4 pages: the 2nd ends on the cursor's own time (re-read, a tie is
            # never lost), the 3rd holds the first older one, and the walk stops there
            assert client.requests == 3

    run(go)


def test_cursor_reset_reports_advisories_updated_after_the_date_again(
        httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver)
    upstream.seed_recorded()
    upstream.global_items.append(advisory("GHSA-vllm-0000-0001", None, T0))
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(ghsa, spec, pool, state)
            state.cursor = ghsa.cursor_since(T0 - timedelta(days=1))
            replay, _ = await poll_once(ghsa, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in replay.events] == [
                ("advisory_published", "GHSA-vllm-0000-0001")]
            assert "replay_after" not in state.cursor
            after, _ = await poll_once(ghsa, spec, pool, state)
            assert after.events == []

    run(go)


def test_malformed_advisories_are_quarantined_and_the_page_goes_on(
        httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver)
    upstream.seed_recorded()
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(ghsa, spec, pool, state)
            good = advisory("GHSA-good-0000-0001", None, T0)
            no_id = advisory("GHSA-tmp0-0000-0001", None, T0)
            no_id["ghsa_id"] = None
            bad_withdrawal = advisory("GHSA-bad0-0000-0001", None, T0)
            bad_withdrawal["withdrawn_at"] = "soon"
            upstream.global_items += [good, no_id, bad_withdrawal]
            result, _ = await poll_once(ghsa, spec, pool, state)
            assert [e.resource_id for e in result.events] == ["GHSA-good-0000-0001"]
            reasons = sorted(q.reason for q in result.quarantined)
            assert len(reasons) == 2
            assert any("GHSA-bad0-0000-0001" in r and "withdrawn_at" in r for r in reasons)
            assert any('"ghsa_id"' in r for r in reasons)

    run(go)


@pytest.mark.parametrize("answer, error", [
    (Response("slow down", status=429, headers={"Retry-After": "120"}), RateLimited),
    (Response('{"message": "API rate limit exceeded"}', status=403, headers={
        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1990600508",
        "Content-Type": "application/json"}), RateLimited),
    (Response("oops", status=502), SourceError),
    (Response("<html><body>Sign in</body></html>", status=200, content_type="text/html"),
     SourceError),
])
def test_faults_raise_for_this_source(httpserver: HTTPServer, answer: Response,
                                      error: type[Exception]) -> None:
    httpserver.expect_request("/advisories").respond_with_response(answer)
    spec = spec_for(ghsa, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(error):
                await poll_once(ghsa, spec, pool, SourceState())

    run(go)


def test_the_github_host_budget_is_one_whichever_plugin_names_it() -> None:
    # the API host's budget is the same whichever plugin names it (the GitHub source also
    # budgets github.com for its releases.atom feeds, which advisories never read)
    assert set(ghsa.BUDGETS) == {"api.github.com"}
    assert ghsa.BUDGETS["api.github.com"] == github.BUDGETS["api.github.com"]


def test_a_backfill_reports_after_its_date_and_an_unrecorded_old_one_is_an_update(
        httpserver: HTTPServer) -> None:
    upstream = FakeAdvisories(httpserver)
    upstream.seed_recorded()  # published and updated in 2023
    upstream.global_items.append(advisory("GHSA-vllm-0000-0001", None, T0))
    state = SourceState()
    spec = spec_for(ghsa, section(httpserver, backfill="since 2026-01-01"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first, _ = await poll_once(ghsa, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in first.events] == [
                ("advisory_published", "GHSA-vllm-0000-0001")]
            # the 2023 advisory, never recorded (older than the backfill), is edited now
            upstream.global_items[0]["updated_at"] = iso(T0 + timedelta(hours=1))
            second, _ = await poll_once(ghsa, spec, pool, state)
            assert [(e.event_type, e.resource_id) for e in second.events] == [
                ("advisory_updated", RECORDED_ID)]

    run(go)


def test_a_rate_limit_hit_by_advisories_defers_github_issues_on_the_same_token(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/advisories").respond_with_response(Response(
        '{"message": "API rate limit exceeded"}', status=403, content_type="application/json",
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1990600508"}))
    issues = FakeGitHub(httpserver, "PyGithub/PyGithub", recorded_issues())
    env = {"GITHUB_TOKEN": "ghp_s3cret"}
    advisories = spec_for(ghsa, section(httpserver))
    repo = spec_for(github, github.Config(repos=["PyGithub/PyGithub"], token_env="GITHUB_TOKEN",
                                          base_url=httpserver.url_for("/")))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(RateLimited):
                await poll_once(ghsa, advisories, pool, SourceState(), env=env)
            with pytest.raises(RateLimited, match="not calling"):
                await poll_once(github, repo, pool, SourceState(), env=env)

    run(go)
    assert issues.requests == []  # deferred without spending a request
