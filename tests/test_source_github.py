"""GitHub issues and PRs over loopback, fed with the recorded PyGithub issues list."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    SourceState,
    close,
    iso,
    make_pool,
    poll_once,
    recorded_issues,
    reopen,
    run,
    spec_for,
    touch,
)

from mrt.events import fingerprint_of
from mrt.sources import github

REPO = "PyGithub/PyGithub"


def section(server: HTTPServer, **kw: object) -> github.Config:
    return github.Config(repos=[REPO], base_url=server.url_for("/"), token_env="GITHUB_TOKEN",
                         **kw)  # type: ignore[arg-type]


def newest_updated() -> str:
    return max(i["updated_at"] for i in recorded_issues())


def test_baseline_records_snapshots_and_emits_nothing(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, client = await poll_once(github, spec_for(github, section(httpserver)),
                                             pool, state, env={"GITHUB_TOKEN": "ghp_secret"})
        assert result.events == []
        assert len(result.snapshots) == 30 and result.fetched == 30
        assert result.cursor == {"since": newest_updated()}
        assert client.requests == 1 and client.statuses == Counter({200: 1})
        assert client.ratelimit_remaining == 4983

    run(go)
    args = fake.requests[0].args
    assert (args["direction"], args["sort"], args["state"], args["per_page"]) == (
        "desc", "updated", "all", "100")
    assert "since" not in args
    assert fake.requests[0].headers["Authorization"] == "Bearer ghp_secret"
    assert fake.requests[0].headers["User-Agent"].startswith("model-release-tracker/")
    snap = state.snapshots[f"{REPO}#3034"]
    assert snap["draft"] is True and snap["merged"] is False and snap["state"] == "open"


def test_monitor_filters_kinds_entirely(httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            spec = spec_for(github, section(httpserver, monitor={"issues": True, "pulls": False}))
            result, _ = await poll_once(github, spec, pool, state)
        assert len(result.snapshots) == 21  # 30 recorded, 9 of them PRs

    run(go)


def test_transitions_across_polls(httpserver: HTTPServer) -> None:
    """close, reopen, merge and a close-reopen-close cycle, each reported once."""
    issues = recorded_issues()
    fake = FakeGitHub(httpserver, REPO, issues)
    state = SourceState()
    spec = spec_for(github, section(httpserver))
    t = datetime(2024, 9, 18, 10, 0, tzinfo=T0.tzinfo)

    async def go() -> list[list[tuple[str, str, str]]]:
        seen = []
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)  # baseline
            close(fake.issue(3042), t)  # an issue is closed
            close(fake.issue(3043), t + timedelta(seconds=1), merged=True)  # a PR merged
            close(fake.issue(3041), t + timedelta(seconds=2))  # a PR closed unmerged
            new = dict(fake.issue(3042), number=3050, id=99, title="New bug",
                       created_at=iso(t + timedelta(seconds=3)), state="open", closed_at=None)
            touch(new, t + timedelta(seconds=3))
            issues.append(new)
            for _ in range(3):
                result, _ = await poll_once(github, spec, pool, state)
                seen.append([(e.event_type, e.resource_id, e.event_id) for e in result.events])
                if len(seen) == 1:
                    reopen(fake.issue(3042), t + timedelta(minutes=5))
                elif len(seen) == 2:
                    close(fake.issue(3042), t + timedelta(minutes=9))
        return seen

    first, second, third = run(go)
    assert first == [
        ("issue_closed", f"{REPO}#3042", f"3042:closed:{iso(t)}"),
        ("pr_merged", f"{REPO}#3043", f"3043:merged:{iso(t + timedelta(seconds=1))}"),
        ("pr_closed", f"{REPO}#3041", f"3041:closed:{iso(t + timedelta(seconds=2))}"),
        ("issue_opened", f"{REPO}#3050", "3050:opened"),
    ]
    assert second == [("issue_reopened", f"{REPO}#3042", f"3042:reopened:{iso(t)}")]
    assert third == [("issue_closed", f"{REPO}#3042",
                      f"3042:closed:{iso(t + timedelta(minutes=9))}")]
    assert fake.requests[1].args["since"] == iso(
        datetime.fromisoformat(newest_updated().replace("Z", "+00:00")) - timedelta(seconds=120))


def test_event_fields_and_v0_fingerprint(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()
    spec = spec_for(github, section(httpserver))
    t = datetime(2024, 9, 18, tzinfo=T0.tzinfo)

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)
            close(fake.issue(3045), t, merged=True)
            result, _ = await poll_once(github, spec, pool, state)
        (event,) = result.events
        item = fake.issue(3045)
        assert event.resource_type == "pull_request" and event.source_key == f"github:{REPO}"
        assert event.author == "bmwiedemann" and event.url == item["html_url"]
        assert event.details["merged"] is True and event.details["number"] == 3045
        assert event.summary.startswith("Without this patch, tests fail after 2024-11-25.")
        assert event.legacy_fingerprint == fingerprint_of(
            "github", "repo_pr", REPO, "pr_merged", str(item["id"]))

    run(go)


def test_v0_worked_fingerprint_recipe() -> None:
    assert fingerprint_of("github", "repo_issue", "vllm-project/vllm", "issue_updated",
                          "2345678901") == (
        "19cf1579457629ee850bd2056cc2410ca4652795078ae1df2bd3f971fc3901e8")


def test_tie_at_the_boundary_is_not_lost(httpserver: HTTPServer) -> None:
    """Two items share the cursor's timestamp; the second appears after the first poll.
    v0's strict `>` lost it; the overlap re-reads it and the fingerprint absorbs the first."""
    issues = recorded_issues()
    boundary = datetime(2024, 9, 20, 12, 0, tzinfo=T0.tzinfo)
    a = next(i for i in issues if i["number"] == 3037)
    close(a, boundary)
    late = next(i for i in issues if i["number"] == 3036)
    issues.remove(late)  # upstream had not made it visible yet (replica lag)
    fake = FakeGitHub(httpserver, REPO, issues)
    state = SourceState(cursor={"updated_after": "2024-09-19T00:00:00Z"})  # a v0 cursor
    spec = spec_for(github, section(httpserver, overlap_seconds=60))

    async def go() -> tuple[list[str], list[str]]:
        async with make_pool(FakeClock()) as pool:
            first, _ = await poll_once(github, spec, pool, state)
            assert state.cursor == {"since": iso(boundary)}
            close(late, boundary)
            issues.append(late)
            second, _ = await poll_once(github, spec, pool, state)
        return [e.fingerprint for e in first.events], [e.event_id for e in second.events]

    first, second = run(go)
    assert len(first) == 1
    assert second == [f"3036:closed:{iso(boundary)}"]  # 3037 re-read, no second event
    assert fake.requests[0].args["since"] == "2024-09-18T23:59:00Z"


def test_many_pages_and_an_item_moving_while_paging(httpserver: HTTPServer) -> None:
    """per_page is 100: 250 items take three pages. One item is updated while we page: it
    moves from page 1 to page 3 (seen twice: one set of events, the newest state wins) and
    #5100 slides from page 2 into the page already read. The cursor is held at the end of
    page 1, so the next poll finds #5100; across both polls every change is reported once."""
    base = recorded_issues()
    issues = []
    start = datetime(2024, 10, 1, tzinfo=T0.tzinfo)
    for n in range(250):
        item = dict(base[n % 30], number=5000 + n, id=10_000 + n, state="closed",
                    created_at=iso(start + timedelta(minutes=n) - timedelta(seconds=30)),
                    closed_at=iso(start + timedelta(minutes=n)))
        item["updated_at"] = item["closed_at"]
        item.pop("pull_request", None)
        issues.append(item)
    fake = FakeGitHub(httpserver, REPO, issues)
    mover = fake.issue(5000)
    fake.moves[2] = lambda: touch(mover, datetime(2024, 11, 1, tzinfo=T0.tzinfo),
                                  title="retitled")
    state = SourceState(cursor={"since": "2024-09-30T00:00:00Z"})
    spec = spec_for(github, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first, client = await poll_once(github, spec, pool, state)
            assert client.requests == 3
            assert first.snapshots[f"{REPO}#5000"]["updated_at"] == "2024-11-01T00:00:00Z"
            assert f"{REPO}#5100" not in first.snapshots  # slid into page 1 after we read it
            assert first.cursor["since"] == iso(start + timedelta(minutes=99))  # held back
            assert first.cursor.get("first_page_full") is True
            second, _ = await poll_once(github, spec, pool, state)
        assert [e.resource_id for e in second.events] == [f"{REPO}#5100"] * 2
        events = first.events + second.events
        kinds = Counter(e.event_type for e in events)
        assert kinds == Counter({"issue_opened": 250, "issue_closed": 250})
        assert len({e.fingerprint for e in events}) == 500
        assert second.cursor["since"] == "2024-11-01T00:00:00Z"

    run(go)
    assert [r.args.get("page", "1") for r in fake.requests[:3]] == ["1", "2", "3"]
    assert "If-None-Match" not in fake.requests[3].headers  # the first page was full


def test_backfill_since_emits_events(httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()
    spec = spec_for(github, section(httpserver, backfill="since 2024-09-09"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, _ = await poll_once(github, spec, pool, state)
        opened = [e.resource_id for e in result.events]
        expected = [f"{REPO}#{i['number']}" for i in sorted(recorded_issues(),
                    key=lambda i: i["updated_at"])
                    if i["updated_at"] >= "2024-09-09" and i["created_at"] >= "2024-09-09"]
        assert opened == expected and len(opened) > 3

    run(go)


def test_conditional_second_poll_is_a_304_with_no_events(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState(cursor={"since": newest_updated()})
    spec = spec_for(github, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)
            before = dict(state.cursor or {})
            result, client = await poll_once(github, spec, pool, state)
        assert result.events == [] and result.cursor == before
        assert client.requests == 1 and client.statuses == Counter({304: 1})

    run(go)
    assert fake.requests[1].headers["If-None-Match"].startswith('W/"')


@pytest.mark.parametrize("cursor", [{"since": "2024-09-01T00:00:00Z"},
                                    {"updated_after": "2024-09-01T00:00:00Z"}])
def test_v0_and_v1_cursor_shapes(httpserver: HTTPServer, cursor: dict[str, str]) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState(cursor=dict(cursor))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec_for(github, section(httpserver)), pool, state)

    run(go)
    assert fake.requests[0].args["since"] == "2024-08-31T23:58:00Z"
    assert state.cursor == {"since": newest_updated()}


def test_cursor_never_moves_backwards(httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver, REPO, [])
    state = SourceState(cursor={"since": "2030-01-01T00:00:00Z"})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec_for(github, section(httpserver)), pool, state)

    run(go)
    assert state.cursor == {"since": "2030-01-01T00:00:00Z"}


@pytest.mark.parametrize("edited", [False, True])
def test_issue_edited_only_when_asked(httpserver: HTTPServer, edited: bool) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()
    spec = spec_for(github, section(httpserver, issue_edited=edited))
    t = datetime(2024, 9, 18, tzinfo=T0.tzinfo)

    async def go() -> list[tuple[str, str]]:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)
            touch(fake.issue(3038), t, labels=[{"name": "bug"}])  # labels changed
            touch(fake.issue(3037), t + timedelta(seconds=1), comments=7)  # only a comment
            result, _ = await poll_once(github, spec, pool, state)
        return [(e.event_type, e.event_id) for e in result.events]

    expected = [("issue_edited", f"3038:edited:{iso(t)}")] if edited else []
    assert run(go) == expected
    assert state.snapshots[f"{REPO}#3038"]["labels"] == ["bug"]


def test_validators_hold_only_the_urls_asked_this_poll(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    state = SourceState()
    spec = spec_for(github, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)  # baseline URL (descending)
            assert len(state.validators) == 1 and "direction=desc" in next(iter(state.validators))
            close(fake.issue(3042), datetime(2024, 9, 18, tzinfo=T0.tzinfo))
            await poll_once(github, spec, pool, state)  # since moves: a new URL
            first = dict(state.validators)
            assert len(first) == 1 and "direction=asc" in next(iter(first))
            await poll_once(github, spec, pool, state)
            assert state.validators != first  # since moved again: the old URL is forgotten
            _, client = await poll_once(github, spec, pool, state)
            assert client.statuses == Counter({304: 1}) and len(state.validators) == 1

    run(go)


def test_github_enterprise_base_url_and_pr_reopened(httpserver: HTTPServer) -> None:
    """`base_url: https://host/api/v3` (GitHub Enterprise): requests and next pages stay there."""
    fake = FakeGitHub(httpserver, REPO, recorded_issues(), prefix="/api/v3")
    state = SourceState()
    spec = spec_for(github, github.Config(repos=[REPO], base_url=httpserver.url_for("/api/v3/")))
    t = datetime(2024, 9, 18, tzinfo=T0.tzinfo)

    async def go() -> list[str]:
        async with make_pool(FakeClock()) as pool:
            await poll_once(github, spec, pool, state)
            close(fake.issue(3040), t)
            first, _ = await poll_once(github, spec, pool, state)
            reopen(fake.issue(3040), t + timedelta(hours=1))
            second, _ = await poll_once(github, spec, pool, state)
        return [e.event_type for e in first.events + second.events]

    assert run(go) == ["pr_closed", "pr_reopened"]
    assert all(r.path == f"/api/v3/repos/{REPO}/issues" for r in fake.requests)
