"""Hugging Face organisation models over loopback (full=true items built from the recording)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeHub,
    SourceState,
    hf_models,
    make_pool,
    poll_once,
    run,
    spec_for,
)

from mrt.events import fingerprint_of
from mrt.sources import huggingface

ORG = "deepseek-ai"
NEWEST = datetime(2025, 11, 1, tzinfo=T0.tzinfo)


def section(server: HTTPServer, **kw: object) -> huggingface.Config:
    return huggingface.Config(orgs=[ORG], base_url=server.url_for("/"), token_env="HF_TOKEN",
                              **kw)  # type: ignore[arg-type]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_baseline_then_added_updated_and_304(httpserver: HTTPServer) -> None:
    models = hf_models(ORG, 5, NEWEST) + hf_models("someone-else", 3, NEWEST)
    hub = FakeHub(httpserver, models)
    state = SourceState()
    spec = spec_for(huggingface, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(huggingface, spec, pool, state,
                                           env={"HF_TOKEN": "hf_s3cret"})
            assert base.events == [] and len(base.snapshots) == 5
            assert base.cursor == {"last_modified_after": "2025-11-01T00:00:00Z"}
            # upstream: one model gets a new commit, one is created
            changed = models[3]
            changed.update(sha="f" * 40, lastModified=stamp(NEWEST + timedelta(hours=1)))
            fresh = dict(models[0], id=f"{ORG}/DeepSeek-V9", sha="a" * 40,
                         createdAt=stamp(NEWEST + timedelta(hours=2)),
                         lastModified=stamp(NEWEST + timedelta(hours=2)))
            models.append(fresh)
            second, client = await poll_once(huggingface, spec, pool, state)
            assert [(e.event_type, e.resource_id, e.event_id) for e in second.events] == [
                ("model_updated", changed["id"], "f" * 40),
                ("model_added", f"{ORG}/DeepSeek-V9", f"{ORG}/DeepSeek-V9"),
            ]
            event = second.events[0]
            assert event.details["pipeline_tag"] == "text-generation"
            assert event.details["library_name"] == "transformers"
            assert event.details["sha"] == "f" * 40 and event.details["gated"] is False
            assert event.resource_type == "model" and event.source_key == f"huggingface:{ORG}"
            assert event.legacy_fingerprint == fingerprint_of(
                "huggingface", "org_model", ORG, "model_updated", "f" * 40)
            assert second.cursor == {"last_modified_after": "2025-11-01T02:00:00Z"}
            third, client = await poll_once(huggingface, spec, pool, state)
            assert third.events == [] and client.statuses == Counter({304: 1})
            assert client.ratelimit_remaining == 487

    run(go)
    args = hub.requests[0].args
    assert (args["author"], args["sort"], args["direction"], args["limit"], args["full"]) == (
        ORG, "lastModified", "-1", "100", "true")
    assert hub.requests[0].headers["Authorization"] == "Bearer hf_s3cret"
    assert "If-None-Match" in hub.requests[2].headers


def test_link_pages_stop_at_the_first_older_model(httpserver: HTTPServer) -> None:
    """250 models, limit 100: a change in the newest 120 takes two pages and stops there."""
    models = hf_models(ORG, 250, NEWEST)
    hub = FakeHub(httpserver, models)
    state = SourceState(cursor={"last_modified_after": stamp(NEWEST - timedelta(hours=119))})
    spec = spec_for(huggingface, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, client = await poll_once(huggingface, spec, pool, state)
        assert client.requests == 2
        assert result.fetched == 120  # ties at the boundary (hour 119) included
        kinds = Counter(e.event_type for e in result.events)
        # created 30 days before their change, long before the cursor: updates, not additions
        assert kinds == Counter({"model_updated": 120})
        assert result.events[0].resource_id == models[119]["id"]  # oldest change first

    run(go)
    assert "cursor=100" in hub.requests[1].query_string.decode()


def test_hf_endpoint_is_honoured_when_base_url_is_unset(httpserver: HTTPServer) -> None:
    FakeHub(httpserver, hf_models(ORG, 2, NEWEST), prefix="/mirror")
    state = SourceState()
    spec = spec_for(huggingface, huggingface.Config(orgs=[ORG]))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, _ = await poll_once(huggingface, spec, pool, state,
                                        env={"HF_ENDPOINT": httpserver.url_for("/mirror")})
        assert len(result.snapshots) == 2

    run(go)
    assert huggingface.base_url(huggingface.Config(orgs=[ORG]), {}) == "https://huggingface.co"


def test_backfill_since_emits_additions(httpserver: HTTPServer) -> None:
    models = hf_models(ORG, 3, NEWEST)
    models[0]["createdAt"] = stamp(NEWEST - timedelta(hours=1))
    FakeHub(httpserver, models)
    spec = spec_for(huggingface, section(httpserver, backfill="since 2025-10-31"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            result, _ = await poll_once(huggingface, spec, pool, SourceState())
        assert [(e.event_type, e.resource_id) for e in result.events] == [
            ("model_updated", models[2]["id"]), ("model_updated", models[1]["id"]),
            ("model_added", models[0]["id"])]

    run(go)
