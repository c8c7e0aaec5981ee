"""ModelScope over loopback: the OpenAPI envelope from the spec's examples, the v0 cursor, and
the degraded fallback to the legacy list (the recorded dolphin envelope)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeModelScope,
    SourceState,
    iso,
    load,
    make_pool,
    ms_models,
    poll_once,
    run,
    spec_for,
)

from mrt.errors import SourceError, UpstreamChanged
from mrt.events import fingerprint_of
from mrt.sources import modelscope

ORG = "deepseek-ai"
NEWEST = datetime(2025, 12, 16, 3, 34, 26, tzinfo=T0.tzinfo)
EXAMPLES = load("modelscope/openapi_examples.json")


def section(server: HTTPServer, **kw: object) -> modelscope.Config:
    return modelscope.Config(orgs=[ORG], base_url=server.url_for("/"), **kw)  # type: ignore[arg-type]


def test_baseline_then_added_updated_and_304(httpserver: HTTPServer) -> None:
    models = ms_models(ORG, 80, NEWEST) + ms_models("iic", 5, NEWEST)
    fake = FakeModelScope(httpserver, models)
    state = SourceState()
    spec = spec_for(modelscope, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(modelscope, spec, pool, state)
            assert base.events == [] and len(base.snapshots) == 50 and client.requests == 1
            assert base.cursor == {"last_modified_after": iso(NEWEST)}
            models[10]["last_modified"] = iso(NEWEST + timedelta(minutes=1))
            added = dict(models[0], id=f"{ORG}/DeepSeek-V4", display_name="DeepSeek-V4",
                         created_at=iso(NEWEST + timedelta(minutes=2)),
                         last_modified=iso(NEWEST + timedelta(minutes=2)))
            models.append(added)
            second, client = await poll_once(modelscope, spec, pool, state)
            assert client.requests == 1  # page 1 reaches models older than the cursor
            assert [(e.event_type, e.resource_id) for e in second.events] == [
                ("model_updated", models[10]["id"]), ("model_added", f"{ORG}/DeepSeek-V4")]
            event = second.events[1]
            assert event.title == "DeepSeek-V4" and event.details["license"] == "apache-2.0"
            assert event.details["tasks"] == ["text-generation"]
            assert event.legacy_fingerprint == fingerprint_of(
                "modelscope", "org_model", ORG, "model_added", f"{ORG}/DeepSeek-V4")
            assert second.events[0].event_id == iso(NEWEST + timedelta(minutes=1))
            third, client = await poll_once(modelscope, spec, pool, state)
            assert third.events == [] and client.statuses == Counter({304: 1})

    run(go)
    args = fake.requests[0].args
    assert (args["owner"], args["sort"], args["page_number"], args["page_size"]) == (
        ORG, "last_modified", "1", "50")


def test_v0_known_model_ids_are_not_added_again(httpserver: HTTPServer) -> None:
    models = ms_models(ORG, 60, NEWEST)
    FakeModelScope(httpserver, models)
    known = [m["id"] for m in models[1:]] + [f"{ORG}/deleted-model"]
    state = SourceState(cursor={"known_model_ids": known})
    spec = spec_for(modelscope, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, client = await poll_once(modelscope, spec, pool, state)
        assert client.requests == 2  # no watermark in a v0 cursor: read every page
        assert [(e.event_type, e.resource_id) for e in result.events] == [
            ("model_added", models[0]["id"])]
        assert len(result.snapshots) == 60
        assert result.cursor == {"last_modified_after": iso(NEWEST),
                                 "known_model_ids": [f"{ORG}/deleted-model"]}

    run(go)


def test_success_false_is_an_error_with_code_and_message(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/openapi/v1/models").respond_with_json(
        EXAMPLES["invalid-authentication"])
    state = SourceState(cursor={"last_modified_after": iso(NEWEST)})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(SourceError) as caught:
                await poll_once(modelscope, spec_for(modelscope, section(httpserver)), pool,
                                state)
        assert not isinstance(caught.value, UpstreamChanged)
        assert "InvalidAuthentication" in str(caught.value)
        assert "check your Authorization header" in str(caught.value)
        assert caught.value.context["code"] == "InvalidAuthentication"

    run(go)
    assert state.cursor == {"last_modified_after": iso(NEWEST)}


def test_500_envelope_is_retried_then_reported(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/openapi/v1/models").respond_with_json(
        EXAMPLES["internal-server-error"], status=500)

    async def go() -> None:
        async with make_pool(FakeClock(), max_attempts=2) as pool:
            with pytest.raises(SourceError) as caught:
                await poll_once(modelscope, spec_for(modelscope, section(httpserver)), pool,
                                SourceState(cursor={}))
        assert caught.value.http_status == 500 and caught.value.context["attempts"] == 2

    run(go)


def dolphin(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/dolphin/models", method="PUT").respond_with_json(
        load("modelscope/modelscope_dolphin_models_envelope_trimmed.json"))


@pytest.mark.parametrize("openapi", ["404", "changed shape"])
def test_fallback_to_the_legacy_list_is_degraded(httpserver: HTTPServer, openapi: str) -> None:
    if openapi == "404":
        httpserver.expect_request("/openapi/v1/models").respond_with_json(
            {"success": False, "code": "NotFound", "message": "no such route",
             "request_id": "r"}, status=404)
    else:
        httpserver.expect_request("/openapi/v1/models").respond_with_json({"models": []})
    dolphin(httpserver)
    spec = spec_for(modelscope, modelscope.Config(orgs=["Qwen"], base_url=httpserver.url_for("/")))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, client = await poll_once(modelscope, spec, pool,
                                             SourceState(cursor={"known_model_ids": []}))
        assert result.degraded and "legacy list endpoint" in result.degraded
        # the recorded records are trimmed (no times): additions only; other owners dropped
        assert [(e.event_type, e.resource_id) for e in result.events] == [
            ("model_added", "Qwen/Qwen3-Next-80B-A3B-Instruct")]
        assert client.requests == 2

    run(go)
    put = next(r for r, _ in httpserver.log if r.method == "PUT")
    body = json.loads(put.data)
    assert body["Criterion"] == [{"category": "organizations", "predicate": "contains",
                                  "values": ["Qwen"]}]
    assert (body["PageNumber"], body["PageSize"]) == (1, 50)


def test_changed_shape_without_fallback_is_upstream_changed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/openapi/v1/models").respond_with_json({"models": []})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(UpstreamChanged):
                await poll_once(modelscope, spec_for(modelscope, section(
                    httpserver, fallback=False)), pool, SourceState(cursor={}))

    run(go)


def test_page_window_is_capped_at_3000(httpserver: HTTPServer) -> None:
    fake = FakeModelScope(httpserver, ms_models(ORG, 3100, NEWEST))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, client = await poll_once(modelscope, spec_for(modelscope, section(
                httpserver)), pool, SourceState(cursor={"known_model_ids": []}))
        assert client.requests == 60 and len(result.snapshots) == 3000

    run(go)
    assert max(int(r.args["page_number"]) for r in fake.requests) == 60
