"""Every source's parser against the hostile items (tests/fixtures/hostile/items/<source>/):
each case alone among good items on one loopback page. A bad item is quarantined with a reason
naming the source, the item and the field, and the good ones around it still make their events;
a case with odd but harmless fields (or invalid text, made valid) goes through."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from datetime import timedelta
from typing import Any

import pytest
from hostile_items import (
    Case,
    case_item,
    cases,
    github_item,
    hf_item,
    hostile_strings,
    ms_item,
)
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    SourceState,
    iso,
    json_response,
    load,
    make_pool,
    poll_once,
    run,
    spec_for,
)

from mrt.errors import SourceError
from mrt.source_kit.contract import PollResult
from mrt.source_kit.timestamps import parse_time
from mrt.sources import github, huggingface, modelscope

REPO, ORG = "vllm-project/vllm", "deepseek-ai"
NOW = T0
MODULES = {"github": github, "huggingface": huggingface, "modelscope": modelscope}
CURSOR_FIELD = {"github": "since", "huggingface": "last_modified_after",
                "modelscope": "last_modified_after"}


def serve(source: str, server: HTTPServer, page: list[Any]) -> None:
    """One page of items as the source's upstream answers it."""
    if source == "github":
        server.expect_request(f"/repos/{REPO}/issues").respond_with_handler(
            lambda request: json_response(request, page))
    elif source == "huggingface":
        server.expect_request("/api/models").respond_with_handler(
            lambda request: json_response(request, page))
    else:
        server.expect_request("/openapi/v1/models").respond_with_handler(
            lambda request: json_response(request, {
                "success": True, "request_id": "r",
                "data": {"models": page if request.args.get("page_number") == "1" else [],
                         "total_count": len(page)}}))


def good_items(source: str) -> list[Any]:
    """Two good items, older and newer than the case (which is dated NOW - 1 minute)."""
    older, newer = NOW - timedelta(minutes=2), NOW
    if source == "github":
        return [github_item(REPO, 101, "good older", older), github_item(REPO, 102, "good newer",
                                                                          newer)]
    if source == "huggingface":
        return [hf_item(ORG, "good-newer", newer), hf_item(ORG, "good-older", older)]
    return [ms_item(ORG, "good-newer", newer), ms_item(ORG, "good-older", older)]


def poll_page(source: str, server: HTTPServer, between: list[Any]) -> tuple[PollResult, Any]:
    module = MODULES[source]
    config: Any
    if source == "github":
        config = github.Config(repos=[REPO], base_url=server.url_for("/"))
    elif source == "huggingface":
        config = huggingface.Config(orgs=[ORG], base_url=server.url_for("/"))
    else:
        config = modelscope.Config(orgs=[ORG], base_url=server.url_for("/"), fallback=False)
    first, second = good_items(source)
    # newest first on the Hub and ModelScope, oldest first on GitHub: the case sits between
    serve(source, server, [first, *between, second])
    state = SourceState(cursor={CURSOR_FIELD[source]: iso(NOW - timedelta(hours=1))})
    spec = spec_for(module, config)
    result, _ = run(lambda: poll_once(module, spec, make_pool(FakeClock()), state, now=NOW))
    return result, spec


def assert_valid_text(value: Any) -> None:
    """Storable and loggable: JSON without NaN, every string encodable as UTF-8, no NUL."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    text.encode("utf-8")
    assert "\\u0000" not in text and "\x00" not in text


def event_ids(result: PollResult) -> set[str]:
    return {e.resource_id for e in result.events}


GOOD = {"github": {f"{REPO}#101", f"{REPO}#102"},
        "huggingface": {f"{ORG}/good-newer", f"{ORG}/good-older"},
        "modelscope": {f"{ORG}/good-newer", f"{ORG}/good-older"}}

CASES = [pytest.param(source, case, id=f"{source}-{case.name}")
         for source in MODULES for case in cases(source)]


@pytest.mark.parametrize(("source", "case"), CASES)
def test_a_hostile_item_is_quarantined_or_made_valid_and_the_page_goes_on(
    source: str, case: Case, httpserver: HTTPServer
) -> None:
    where = REPO if source == "github" else ORG
    item = case_item(source, where, case, 0, NOW - timedelta(minutes=1))
    result, spec = poll_page(source, httpserver, [item])

    assert GOOD[source] <= event_ids(result)  # the good items around it made their events
    cursor = parse_time(result.cursor[CURSOR_FIELD[source]])
    assert cursor is not None and NOW - timedelta(minutes=2) <= cursor <= NOW  # moved, not future
    for event in result.events:
        assert_valid_text(dataclasses.asdict(event))
    assert_valid_text(result.snapshots)
    if case.expect == "quarantined":
        assert len(result.events) == 2
        (kept,) = result.quarantined
        assert kept.reason.startswith(f"{spec.key} "), kept.reason
        assert f'field "{case.field}"' in kept.reason, kept.reason
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in kept.reason)
        assert_valid_text(kept.raw)
        assert kept.item_key
    else:
        assert result.quarantined == [], [q.reason for q in result.quarantined]
        assert len(result.events) == 3


def test_the_reason_names_the_item_by_number_or_by_its_url(httpserver: HTTPServer) -> None:
    bad = github_item(REPO, 7, "x", NOW - timedelta(minutes=1))
    bad["number"] = "abc"
    labelled = github_item(REPO, 8, "y", NOW - timedelta(minutes=1))
    labelled["labels"] = 5
    result, _ = poll_page("github", httpserver, [bad, labelled])
    reasons = sorted(q.reason for q in result.quarantined)
    assert reasons == [
        f'github:{REPO} issue #8: field "labels": expected a list of labels, found 5',
        f"github:{REPO} issue #? (https://github.com/{REPO}/issues/7): "
        'field "number": expected an integer, found "abc"',
    ]
    by_key = {q.item_key: q for q in result.quarantined}
    assert set(by_key) == {"#8", f"id:{9_200_000_007}"}
    assert by_key["#8"].url == f"https://github.com/{REPO}/issues/8"


def test_a_bad_item_newest_on_the_page_still_moves_the_cursor_past_it(
    httpserver: HTTPServer,
) -> None:
    bad = github_item(REPO, 9, "late", NOW + timedelta(minutes=5))  # newer than both good ones
    bad["number"] = None
    first, second = good_items("github")
    serve("github", httpserver, [first, second, bad])
    state = SourceState(cursor={"since": iso(NOW - timedelta(hours=1))})
    spec = spec_for(github, github.Config(repos=[REPO], base_url=httpserver.url_for("/")))
    result, _ = run(lambda: poll_once(github, spec, make_pool(FakeClock()), state,
                                      now=NOW + timedelta(minutes=6)))
    assert len(result.quarantined) == 1
    assert result.cursor["since"] == iso(NOW + timedelta(minutes=5))


@pytest.mark.parametrize("source", list(MODULES))
def test_hostile_text_in_every_text_field_goes_through_as_valid_text(
    source: str, httpserver: HTTPServer
) -> None:
    strings = hostile_strings()
    at = NOW - timedelta(minutes=1)
    items: list[Any] = []
    for n, (name, text) in enumerate(strings.items()):
        if source == "github":
            item = github_item(REPO, 1000 + n, text, at)
            item["body"] = text
            item["user"]["login"] = text
            item["labels"] = [{"name": text}]
        elif source == "huggingface":
            item = hf_item(ORG, f"text-{name}", at)
            item.update(pipeline_tag=text, library_name=text, tags=[text],
                        cardData={"license": text})
        else:
            item = ms_item(ORG, f"text-{name}", at)
            item.update(display_name=text, tasks=[text], description=text, license=text)
        items.append(item)
    result, _ = poll_page(source, httpserver, items)
    assert result.quarantined == [], [q.reason for q in result.quarantined]
    assert len(result.events) == len(strings) + 2
    for event in result.events:
        assert_valid_text(dataclasses.asdict(event))
    if source == "github":
        titles = {e.title for e in result.events}
        assert "bad \ufffd title" in titles  # the lone surrogate, replaced
        assert "nul\ufffdbyte" in titles  # NUL cannot be stored by PostgreSQL


def test_the_legacy_modelscope_list_quarantines_its_bad_records_too(
    httpserver: HTTPServer,
) -> None:
    """The fallback endpoint's records (the recorded envelope, a record per case) go through
    the same per-item checks: a record without a name or with a time far ahead is kept aside."""
    envelope = load("modelscope/modelscope_dolphin_models_envelope_trimmed.json")
    good = {"Path": ORG, "Name": "good-legacy", "GmtModified": iso(NOW - timedelta(minutes=1)),
            "GmtCreated": iso(NOW - timedelta(minutes=1))}
    records = [
        good,
        {"Path": ORG, "Name": 5, "GmtModified": iso(NOW)},
        {"Path": ORG, "Name": "from-the-future", "GmtModified": "9999-01-01T00:00:00Z"},
        {"Organization": {"Avatar": "\ud800"}},
        "not a record",
    ]
    envelope["Data"]["Model"]["Models"] = records
    httpserver.expect_request("/openapi/v1/models").respond_with_data("gone", status=404)
    httpserver.expect_request("/api/v1/dolphin/models", method="PUT").respond_with_json(envelope)
    config = modelscope.Config(orgs=[ORG], base_url=httpserver.url_for("/"))
    state = SourceState(cursor={"last_modified_after": iso(NOW - timedelta(hours=1))})
    spec = spec_for(modelscope, config)
    result, _ = run(lambda: poll_once(modelscope, spec, make_pool(FakeClock()), state, now=NOW))
    assert result.degraded and [e.resource_id for e in result.events] == [f"{ORG}/good-legacy"]
    reasons = sorted(q.reason for q in result.quarantined)
    assert len(reasons) == 4, reasons
    assert sum('field "Name"' in r for r in reasons) == 2
    assert any(r.startswith(f"modelscope:{ORG} model {ORG}/from-the-future: field "
                            '"GmtModified"') for r in reasons)
    assert any('field "item"' in r for r in reasons)
    assert result.cursor["last_modified_after"] == iso(NOW - timedelta(minutes=1))


def test_an_error_message_carrying_invalid_text_is_storable(httpserver: HTTPServer) -> None:
    """`success: false` with a lone surrogate in its message: the poll fails (as it should), and
    the message it fails with can be stored as the source's last error."""
    httpserver.expect_request("/openapi/v1/models").respond_with_handler(
        lambda request: json_response(request, {
            "success": False, "code": "Bad\ud800", "message": "no \udc00 way\u0000"}))
    config = modelscope.Config(orgs=[ORG], base_url=httpserver.url_for("/"), fallback=False)
    state = SourceState(cursor={"last_modified_after": iso(NOW - timedelta(hours=1))})
    spec = spec_for(modelscope, config)
    with pytest.raises(SourceError) as failed:
        run(lambda: poll_once(modelscope, spec, make_pool(FakeClock()), state, now=NOW))
    message = str(failed.value)
    message.encode("utf-8")
    assert "no \ufffd way\ufffd" in message and "Bad\ufffd" in message


def test_a_bad_item_of_a_kind_nobody_watches_is_not_news(httpserver: HTTPServer) -> None:
    """With only issues monitored, a malformed pull request is skipped like any pull request."""
    pull = github_item(REPO, 11, "a pull", NOW - timedelta(minutes=1))
    pull["pull_request"] = {"merged_at": None}
    pull["labels"] = 5
    issue = github_item(REPO, 12, "an issue", NOW - timedelta(minutes=1))
    issue["labels"] = 5
    first, second = good_items("github")
    serve("github", httpserver, [first, pull, issue, second])
    config = github.Config(repos=[REPO], base_url=httpserver.url_for("/"),
                           monitor={"issues": True, "pulls": False})
    state = SourceState(cursor={"since": iso(NOW - timedelta(hours=1))})
    spec = spec_for(github, config)
    result, _ = run(lambda: poll_once(github, spec, make_pool(FakeClock()), state, now=NOW))
    assert [q.item_key for q in result.quarantined] == ["#12"]
    assert event_ids(result) == GOOD["github"]


def test_a_model_without_a_usable_id_is_named_by_its_other_ids(httpserver: HTTPServer) -> None:
    at = NOW - timedelta(minutes=1)
    by_alias, by_oid, nameless = (hf_item(ORG, name, at) for name in ("a", "b", "c"))
    by_alias["id"] = 5
    by_oid.update(id=None, modelId=None)
    nameless.update(id="", modelId=None, _id=None)
    result, _ = poll_page("huggingface", httpserver, [by_alias, by_oid, nameless])
    reasons = [q.reason for q in result.quarantined]
    assert reasons[0].startswith(f"huggingface:{ORG} model ? ({ORG}/a): field \"id\"")
    assert reasons[1].startswith(f"huggingface:{ORG} model ? (_id {by_oid['_id']}): ")
    assert reasons[2].startswith(f"huggingface:{ORG} model ?: field \"id\"")
    assert result.quarantined[2].item_key.startswith("sha256:")
