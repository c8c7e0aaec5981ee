"""Upstream cost: requests (and bytes) per cycle and per hour for the v0 example config.

share/examples/v0-config.json, base URLs pointed at the loopback fakes of
tests/test_source_support.py (two GitHub repos with the 30 recorded issues, a Hugging Face org
of 150 models, a ModelScope org of 80), through the real pipeline (mrt.pipeline.run_source_cycle,
all four sources). Next to it, what the v0 tool's pattern costs against the same fakes: for
each repo a request for issues and one for pulls, full pages every cycle, one full page per
Hugging Face and ModelScope org, never a conditional request. Counts, not timings.

The two "every source" rows: one of each source (tests/bench/upstream_all.py), against the
naive pattern (every cycle a full fetch, no conditional header, no snapshot reuse).
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench import upstream_all
from tests.bench.common import ROOT, Row, Sizes, command_for, upstream_server

BENCH = "upstream"
FIGURES = ("first cycle", "unchanged cycle", "unchanged, per hour", "unchanged, bytes",
           "GitHub rate limit, per hour", "every source, unchanged cycle",
           "every source, unchanged bytes")
ENV = {"GITHUB_TOKEN": "ghp_bench", "HF_TOKEN": "hf_bench",
       "WELINK_WEBHOOK_URL": "welink://bench_token@127.0.0.1:9/hook?channel=standard&secure=no"}


def _v0_config(base_url: str) -> Any:
    from mrt.config import config_from_dict

    data = json.loads((ROOT / "share/examples/v0-config.json").read_text("utf-8"))
    for section in data["sources"].values():
        section["base_url"] = base_url
    return config_from_dict(data)


def _serve_fakes(server: Any) -> dict[str, Any]:
    from test_source_support import (
        T0,
        FakeGitHub,
        FakeHub,
        FakeModelScope,
        hf_models,
        json_response,
        ms_models,
        recorded_issues,
    )

    fakes: dict[str, Any] = {}
    for repo in ("vllm-project/vllm", "sgl-project/sglang"):
        fake = FakeGitHub(server, repo, recorded_issues())
        pulls = [i for i in fake.issues if "pull_request" in i]
        server.expect_request(f"/repos/{repo}/pulls").respond_with_handler(
            lambda request, pulls=pulls: json_response(request, pulls))
        fakes[repo] = fake
    fakes["hf"] = FakeHub(server, hf_models("deepseek-ai", 150,
                                            datetime(2025, 11, 1, tzinfo=T0.tzinfo)))
    fakes["ms"] = FakeModelScope(server, ms_models("deepseek-ai", 80,
                                                   datetime(2025, 12, 1, tzinfo=T0.tzinfo)))
    return fakes


def _counted(server: Any, since: int) -> tuple[int, int, int]:
    """(requests, response body bytes, GitHub requests that count against its rate limit)
    in the server's log from entry `since` on. GitHub does not count a 304."""
    requests = bytes_ = github_counted = 0
    for request, response in server.log[since:]:
        requests += 1
        bytes_ += len(response.get_data())
        if request.path.startswith("/repos/") and response.status_code != 304:
            github_counted += 1
    return requests, bytes_, github_counted


async def _ours(server: Any, tmp: Path) -> list[tuple[int, int, int]]:
    from test_source_support import T0, FakeClock, make_pool

    from mrt.delivery.channels import resolve_targets
    from mrt.pipeline import Engine, build_specs, run_source_cycle
    from mrt.rules import compile_rules
    from mrt.store import sources
    from mrt.store.db import open_store

    config = _v0_config(server.url_for("/").rstrip("/"))
    db = open_store(tmp / "upstream.sqlite3", now=T0)
    per_cycle = []
    async with make_pool(FakeClock()) as pool:
        engine = Engine(config=config, db=db, pool=pool, targets=resolve_targets(config, ENV),
                        ruleset=compile_rules(config),
                        env=ENV, rng=random.Random(3))
        specs = build_specs(config, engine.plugins)
        sources.ensure_states(((s.key, s.plugin) for s in specs), T0)
        at = T0
        for _ in range(3):  # baseline, first steady, unchanged
            mark = len(server.log)
            reports = await asyncio.gather(*(run_source_cycle(engine, s, at) for s in specs))
            assert all(r.outcome == "ok" for r in reports), reports
            per_cycle.append(_counted(server, mark))
            at += timedelta(seconds=config.poll_interval_seconds)
    db.close()
    return per_cycle


async def _v0_pattern(server: Any) -> tuple[int, int, int]:
    base = server.url_for("/").rstrip("/")
    mark = len(server.log)
    async with httpx.AsyncClient(trust_env=False) as client:
        for repo in ("vllm-project/vllm", "sgl-project/sglang"):
            for kind in ("issues", "pulls"):
                answer = await client.get(f"{base}/repos/{repo}/{kind}",
                                          params={"state": "all", "per_page": 100})
                answer.raise_for_status()
        answer = await client.get(f"{base}/api/models", params={
            "author": "deepseek-ai", "sort": "lastModified", "direction": -1, "limit": 100,
            "full": "true"})
        answer.raise_for_status()
        answer = await client.get(f"{base}/openapi/v1/models", params={
            "owner": "deepseek-ai", "page_number": 1, "page_size": 50})
        answer.raise_for_status()
    return _counted(server, mark)


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    with upstream_server() as server, tempfile.TemporaryDirectory() as tmp:
        _serve_fakes(server)
        first, steady, unchanged = asyncio.run(_ours(server, Path(tmp)))
        v0 = asyncio.run(_v0_pattern(server))  # the same every cycle: nothing is conditional
    cycles_per_hour = 3600 / 300  # poll_interval_seconds of the example
    (every, every_bytes), (naive, naive_bytes), count = upstream_all.measure()
    every_note = (f"{count} source instances, every plugin but modeldir (no upstream), nothing "
                  "changed; naive: nothing carried over")
    return [
        Row(BENCH, "first cycle", first[0], "requests", "v0 pattern, a cycle", v0[0], cmd,
            f"baseline poll of 4 sources; first steady cycle {steady[0]} requests"),
        Row(BENCH, "unchanged cycle", unchanged[0], "requests", "v0 pattern, a cycle", v0[0],
            cmd, "every one a conditional request answered 304"),
        Row(BENCH, "unchanged, per hour", unchanged[0] * cycles_per_hour, "requests/h",
            "v0 pattern, per hour", v0[0] * cycles_per_hour, cmd, "poll_interval_seconds 300"),
        Row(BENCH, "unchanged, bytes", unchanged[1], "bytes/cycle", "v0 pattern, a cycle",
            v0[1], cmd, "response bodies"),
        Row(BENCH, "GitHub rate limit, per hour", unchanged[2] * cycles_per_hour, "requests/h",
            "v0 pattern, per hour", v0[2] * cycles_per_hour, cmd,
            "what counts against GitHub's 5,000/h: a 304 does not"),
        Row(BENCH, "every source, unchanged cycle", every, "requests", "naive pattern, a cycle",
            naive, cmd, every_note),
        Row(BENCH, "every source, unchanged bytes", every_bytes, "bytes/cycle",
            "naive pattern, a cycle", naive_bytes, cmd, "response bodies"),
    ]
