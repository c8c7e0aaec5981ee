"""The OSV source through the real `mrt-worker --once`: a silent baseline of the recorded
advisories, a new advisory alerted to the loopback webhook with its severity and aliases, no
repeat, and an OSV outage that fails OSV alone."""

from __future__ import annotations

import json
import re
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


def test_osv_baseline_then_new_advisory_alerts_once_and_an_outage_fails_only_osv(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    outage: list[Response] = []
    osv_fake = FakeOsv(httpserver)
    handler = osv_fake.batch

    def batch(request: object) -> Response:
        return outage[0] if outage else handler(request)  # type: ignore[arg-type]

    httpserver.handlers.clear()  # re-register with the fault switch in front of the batch
    httpserver.expect_request("/v1/querybatch", method="POST").respond_with_handler(batch)
    httpserver.expect_request(re.compile(r"/v1/vulns/.+")).respond_with_handler(
        osv_fake.vuln)
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

    outage.append(Response("<html><body>Service Unavailable</body></html>", status=503))
    broken = product.worker_once(expect=3)  # a source failed; the cycle still ran
    report = cycle_report(broken)
    assert report[KEY][0] != "ok"
    assert all(outcome == "ok" for key, (outcome, _, _) in report.items() if key != KEY)
