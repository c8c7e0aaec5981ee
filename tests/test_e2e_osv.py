"""The OSV source through the real `mrt-worker --once`: a silent baseline of the recorded
advisories, a new advisory alerted to the loopback webhook with its severity and aliases, no
repeat, and a rate limit that defers OSV alone."""

from __future__ import annotations

import json
from pathlib import Path

from osv_support import PACKAGE, FakeOsv
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
from werkzeug import Response

KEY = "osv:osv"


def test_osv_baseline_then_new_advisory_alerts_once_and_a_rate_limit_defers_only_osv(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    osv_fake = FakeOsv(httpserver)
    osv_fake.seed_recorded()
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["osv"] = {"packages": [PACKAGE],
                              "base_url": httpserver.url_for("/").rstrip("/")}
    data["watch_keywords"] = [*data.get("watch_keywords", []), "vllm"]  # the team ships vllm
    config.write_text(json.dumps(data), encoding="utf-8")
    product = Product(config, product_env(tmp_path / "home", httpserver))

    baseline = product.worker_once()
    assert cycle_report(baseline)[KEY] == ("ok", 0, 0)
    assert product.sources()[KEY]["key"] == KEY  # `mrt sources` lists it
    assert osv_fake.requests == [("POST", "/v1/querybatch")]

    osv_fake.publish("GHSA-4m3c-vllm-0001", now_utc(), aliases=("CVE-2026-1234",))
    steady = product.worker_once()
    assert cycle_report(steady)[KEY] == ("ok", 1, 1)
    (text,) = [t for t in robot_texts(robot) if "GHSA-4m3c-vllm-0001" in t]
    assert "New security advisory" in text
    assert "HIGH" in text and "CVE-2026-1234" in text

    sent = len(robot.received)
    again = product.worker_once()
    assert cycle_report(again)[KEY] == ("ok", 0, 0)
    assert len(robot.received) == sent

    # a 429 with Retry-After: OSV is deferred, not retried in the cycle, and nothing else is
    osv_fake.fault = Response("slow down", status=429, headers={"Retry-After": "600"})
    report = cycle_report(product.worker_once())  # a deferral is not a failure: exit 0
    assert report[KEY][0] == "deferred"
    assert all(outcome == "ok" for key, (outcome, _, _) in report.items() if key != KEY)
