"""The issue's "done when": with the v0 example config (base URLs on loopback), a cycle costs
one request per GitHub repo, one per Hugging Face org page and one per ModelScope page; a
second cycle with nothing changed costs the same, all 304, and creates no event."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from types import ModuleType
from typing import Any

from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    FakeHub,
    FakeModelScope,
    SourceState,
    hf_models,
    make_pool,
    ms_models,
    poll_once,
    recorded_issues,
    run,
)

from mrt.http import HttpPool
from mrt.source_kit.contract import SourceSpec
from mrt.sources import github, huggingface, modelscope

# share/examples is the config engineer's; this is the seed's section 2.2 example, verbatim
V0_EXAMPLE = json.loads("""
{
  "poll_interval_seconds": 300,
  "watch_keywords": ["deepseek", "qwen"],
  "state": { "sqlite_path": "./mrt_state.sqlite3" },
  "sources": {
    "github": {
      "repos": ["vllm-project/vllm", "sgl-project/sglang"],
      "monitor": { "issues": true, "pulls": true },
      "token_env": "GITHUB_TOKEN"
    },
    "huggingface": { "orgs": ["deepseek-ai"], "token_env": "HF_TOKEN" },
    "modelscope": { "orgs": ["deepseek-ai"] }
  }
}
""")
ENV = {"GITHUB_TOKEN": "ghp_example", "HF_TOKEN": "hf_example"}
MODULES: dict[str, ModuleType] = {"github": github, "huggingface": huggingface,
                                  "modelscope": modelscope}


def specs(server: HTTPServer) -> list[SourceSpec]:
    out: list[SourceSpec] = []
    for name, raw in V0_EXAMPLE["sources"].items():
        module = MODULES[name]
        section = module.Config(**raw, base_url=server.url_for("/"))
        out.extend(module.instances(name, section, None))
    return out


async def cycle(pool: HttpPool, all_specs: list[SourceSpec],
                states: dict[str, SourceState], now: datetime) -> dict[str, Any]:
    """All sources concurrently on one pool, as the runner does."""
    outcomes = await asyncio.gather(*(
        poll_once(MODULES[spec.plugin], spec, pool, states[spec.key], env=ENV, now=now)
        for spec in all_specs))
    return {spec.key: outcome for spec, outcome in zip(all_specs, outcomes, strict=True)}


def test_v0_example_cycle_costs(httpserver: HTTPServer) -> None:
    for repo in ("vllm-project/vllm", "sgl-project/sglang"):
        FakeGitHub(httpserver, repo, recorded_issues())
    FakeHub(httpserver, hf_models("deepseek-ai", 150, datetime(2025, 11, 1, tzinfo=T0.tzinfo)))
    FakeModelScope(httpserver, ms_models("deepseek-ai", 80,
                                         datetime(2025, 12, 1, tzinfo=T0.tzinfo)))
    all_specs = specs(httpserver)
    assert [s.key for s in all_specs] == ["github:vllm-project/vllm", "github:sgl-project/sglang",
                                          "huggingface:deepseek-ai", "modelscope:deepseek-ai"]
    states = {spec.key: SourceState() for spec in all_specs}

    async def go() -> list[dict[str, Any]]:
        clock = FakeClock()
        async with make_pool(clock) as pool:
            return [await cycle(pool, all_specs, states, T0) for _ in range(3)]

    baseline, first, second = run(go)
    expected = dict.fromkeys(states, 1)  # one page each: HF 150 models, but only since the cursor
    for outcome in (baseline, first, second):
        assert {key: client.requests for key, (_, client) in outcome.items()} == expected
    assert all(not result.events for result, _ in baseline.values())
    # the first steady cycle: GitHub asks a new URL (ascending, since the baseline's newest
    # update) and gets 200; Hugging Face and ModelScope ask the baseline's URL again: 304
    assert {key: dict(client.statuses) for key, (_, client) in first.items()} == {
        "github:vllm-project/vllm": {200: 1}, "github:sgl-project/sglang": {200: 1},
        "huggingface:deepseek-ai": {304: 1}, "modelscope:deepseek-ai": {304: 1}}
    assert all(not result.events for result, _ in first.values())
    # nothing changed: the same number of requests, every one a 304, no event, cursors kept
    for key, (result, client) in second.items():
        assert client.statuses == Counter({304: 1}), key
        assert result.events == [] and result.cursor == first[key][0].cursor
