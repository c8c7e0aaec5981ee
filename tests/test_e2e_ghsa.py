"""The GitHub advisories source through the real `mrt-worker --once`: a silent baseline of the
recorded advisory, a new advisory alerted to the loopback webhook with its severity and CVE, no
repeat, and an HTML error page answered with 200 that fails this source alone."""

from __future__ import annotations

import json
from pathlib import Path

from ghsa_support import ECOSYSTEM, PACKAGE, FakeAdvisories, advisory
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

KEY = f"ghsa:{ECOSYSTEM}/{PACKAGE}"


def test_ghsa_baseline_then_new_advisory_alerts_once_and_a_bad_page_fails_only_ghsa(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeAdvisories(httpserver)
    fake.seed_recorded()
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["ghsa"] = {"packages": [{"ecosystem": ECOSYSTEM, "name": PACKAGE}],
                               "token_env": "GITHUB_TOKEN",
                               "base_url": httpserver.url_for("/").rstrip("/")}
    data["watch_keywords"] = [*data.get("watch_keywords", []), "vllm"]  # the team ships vllm
    config.write_text(json.dumps(data), encoding="utf-8")
    product = Product(config, product_env(tmp_path / "home", httpserver))

    baseline = product.worker_once()
    assert cycle_report(baseline)[KEY] == ("ok", 0, 0)
    assert product.sources()[KEY]["key"] == KEY  # `mrt sources` lists it

    fake.global_items.append(advisory("GHSA-vllm-e2e0-0001", "CVE-2026-4242", now_utc(),
                                      severity="critical"))
    fake.global_items[-1]["summary"] = "vllm: remote code execution through a crafted prompt"
    steady = product.worker_once()
    assert cycle_report(steady)[KEY] == ("ok", 1, 1)
    (text,) = [t for t in robot_texts(robot) if "GHSA-vllm-e2e0-0001" in t]
    assert "New security advisory" in text
    assert "CRITICAL" in text and "CVE-2026-4242" in text
    assert "https://github.com/advisories/GHSA-vllm-e2e0-0001" in text

    sent = len(robot.received)
    again = product.worker_once()
    assert cycle_report(again)[KEY] == ("ok", 0, 0)
    assert len(robot.received) == sent

    fake.fault = (Response("<html><body>Unicorn!</body></html>", status=200,
                           content_type="text/html"))
    report = cycle_report(product.worker_once(expect=3))
    assert report[KEY][0] != "ok"
    assert all(outcome == "ok" for key, (outcome, _, _) in report.items() if key != KEY)
