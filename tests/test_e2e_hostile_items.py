"""Issue 19 item 4 at the worker level: every hostile item case (tests/fixtures/hostile/items/)
and every hostile string (tests/fixtures/hostile/text.json) mixed into the real pages of the v0
example's sources, served over loopback, through the installed `mrt-worker --once`.

No crash; the good items' events are stored and alerted once; each bad item is quarantined with
a reason naming it and the field, shown by `mrt sources`, told to the operators once; the
cursors move; and the next cycle, re-reading the same bad items, neither quarantines nor alerts
anything again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hostile_items import Injector, case_item, case_of, cases, github_item, hostile_strings
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    cycle_report,
    install_robot,
    loopback_config,
    now_utc,
    product_env,
    robot_texts,
)

VLLM = "vllm-project/vllm"
ORG = "deepseek-ai"
HOSTILE_KEYS = {"github": f"github:{VLLM}", "huggingface": f"huggingface:{ORG}",
                "modelscope": f"modelscope:{ORG}"}
PATHS = {"github:vllm-project/vllm": f"/repos/{VLLM}/issues",
         "github:sgl-project/sglang": "/repos/sgl-project/sglang/issues",
         "huggingface:deepseek-ai": "/api/models", "modelscope:deepseek-ai": "/openapi/v1/models"}


def install_injectors(server: HTTPServer, up: Upstreams) -> dict[str, Injector]:
    """The fakes' handlers (with their fault switches) behind injectors, registered first."""
    fakes = {"github:vllm-project/vllm": up.github[VLLM],
             "github:sgl-project/sglang": up.github["sgl-project/sglang"],
             "huggingface:deepseek-ai": up.hub, "modelscope:deepseek-ai": up.modelscope}
    server.clear_all_handlers()
    injectors = {}
    for key, fake in fakes.items():
        envelope = (lambda body: body["data"]["models"]) if key.startswith("modelscope") else (
            lambda body: body)
        injector = Injector(up.faults[key].wrap(fake.handle), at=1, envelope=envelope)
        server.expect_request(PATHS[key]).respond_with_handler(injector.handle)
        injectors[key] = injector
    return injectors


def rows(db_file: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql).fetchall()]


def quarantine_rows(db_file: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows(db_file, "SELECT * FROM quarantined_item ORDER BY id"):
        row["raw"] = json.loads(row["raw"])
        found.setdefault(row["source_key"], []).append(row)
    return found


def notices(db_file: Path) -> list[dict[str, Any]]:
    return rows(db_file, "SELECT * FROM alert WHERE kind = 'source_health' "
                         "AND tags LIKE '%quarantine%' ORDER BY id")


def test_hostile_items_are_quarantined_once_and_the_rest_of_each_page_is_delivered(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    injectors = install_injectors(httpserver, up)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver,
                             extra={"delivery": {"min_interval_seconds": 0}})
    product = Product(config, product_env(tmp_path / "home", httpserver))
    db_file = tmp_path / "mrt_state.sqlite3"
    product.worker_once()  # the baseline
    before = product.sources()

    # good news on every source, with every hostile case mixed into the same page
    up.open_issue(VLLM, 50001, "DeepSeek marker vllm issue")
    up.open_issue(VLLM, 50002, "Qwen marker vllm pull", pr=True)
    up.open_issue("sgl-project/sglang", 50003, "DeepSeek marker sglang")
    up.add_hf_model("DeepSeek-Marker-A")
    up.add_hf_model("DeepSeek-Marker-B")
    up.add_ms_model("DeepSeek-Marker-C")
    up.add_ms_model("DeepSeek-Marker-D")
    now = now_utc()
    expected: dict[str, list[Any]] = {}
    for source, key in HOSTILE_KEYS.items():
        where = VLLM if source == "github" else ORG
        listed = cases(source)
        expected[key] = listed
        injectors[key].items = [case_item(source, where, c, n, now) for n, c in enumerate(listed)]
    strings = hostile_strings()
    injectors[HOSTILE_KEYS["github"]].items += [
        github_item(VLLM, 80_000 + n, text, now) for n, text in enumerate(strings.values())]

    first = product.worker_once()
    report = cycle_report(first)
    assert all(outcome == "ok" for outcome, _, _ in report.values()), report

    texts = robot_texts(robot)
    assert robot.problems == []
    for marker in ("DeepSeek marker vllm issue", "Qwen marker vllm pull", "DeepSeek marker sglang",
                   "DeepSeek-Marker-A", "DeepSeek-Marker-B", "DeepSeek-Marker-C",
                   "DeepSeek-Marker-D"):
        assert sum(marker in t for t in texts) == 1, marker

    # each bad item quarantined once, its reason naming the source, the item and the field
    kept_aside = quarantine_rows(db_file)
    for key, listed in expected.items():
        bad = [c for c in listed if c.expect == "quarantined"]
        found = kept_aside.get(key, [])
        assert len(found) == len(bad), (key, [r["reason"] for r in found])
        by_case = {case_of(r["raw"]): r for r in found}
        for case in bad:
            row = by_case.get(case.name) or next(
                r for r in found if r["raw"] == {"item": case.replace})
            assert row["reason"].startswith(f"{key} "), row["reason"]
            assert f'field "{case.field}"' in row["reason"], row["reason"]
            assert row["count"] == 1 and row["first_seen_at"] == row["last_seen_at"]

    # the good and the merely odd items are stored as events, their text made valid
    events = rows(db_file, "SELECT resource_id, title FROM event")
    stored = {e["resource_id"] for e in events}
    for n, case in enumerate(expected[HOSTILE_KEYS["github"]]):
        if case.expect == "kept":
            assert f"{VLLM}#{70_000 + n}" in stored, case.name
    assert {f"{VLLM}#{80_000 + n}" for n in range(len(strings))} <= stored
    assert f"{ORG}/bad-\ufffd-name" in stored  # a lone surrogate in an id, replaced
    titles = {e["title"] for e in events}
    assert "bad \ufffd title" in titles

    # visible in `mrt sources`, and told to the operators once per source
    after = product.sources()
    for key, listed in expected.items():
        shown = after[key]["quarantined"]
        assert shown["count"] == sum(c.expect == "quarantined" for c in listed)
        assert shown["latest_reason"].startswith(f"{key} ")
        assert after[key]["cursor"] != before[key]["cursor"]
        assert after[key]["health"] == "ok" and after[key]["last_error"] is None
    assert after["github:sgl-project/sglang"]["quarantined"] == {"count": 0,
                                                                  "latest_reason": None}
    table = product.mrt("sources", "--config", str(config)).stdout
    assert "QUARANTINED" in table and f"github:{VLLM}" in table.split("QUARANTINED")[1]
    told = notices(db_file)
    assert sorted(n["source_key"] for n in told) == sorted(HOSTILE_KEYS.values())
    assert sum("quarantined" in t for t in texts) == 3

    # the next cycle re-reads the same bad items: nothing is quarantined or told again
    up.open_issue(VLLM, 50004, "DeepSeek marker vllm second")
    up.add_hf_model("DeepSeek-Marker-E")
    up.add_ms_model("DeepSeek-Marker-F")
    sent_before = len(robot_texts(robot))
    second = product.worker_once()
    assert all(outcome == "ok" for outcome, _, _ in cycle_report(second).values())
    again = quarantine_rows(db_file)
    assert {k: len(v) for k, v in again.items()} == {k: len(v) for k, v in kept_aside.items()}
    assert all(r["count"] == 2 for r in again[HOSTILE_KEYS["github"]])  # re-read, counted
    assert len(notices(db_file)) == 3
    new_texts = robot_texts(robot)[sent_before:]
    assert len(new_texts) == 3, new_texts
    for marker in ("DeepSeek marker vllm second", "DeepSeek-Marker-E", "DeepSeek-Marker-F"):
        assert sum(marker in t for t in new_texts) == 1, marker
    assert robot.problems == []
