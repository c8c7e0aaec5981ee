"""share/grafana/mrt-dashboard.json and share/prometheus/mrt-alerts.yml name only series the
worker exposes, every series has a panel, and the alert rules cover what the operators asked
for (worker down, source failing, dead letters, oldest pending). The exposition comes from
worker.metrics over a real SQLite file seeded with a source, cycles, deliveries and a
heartbeat; promtool checks the rules too where it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tui_seed import NOW, add_alert, add_source, beat

from mrt.store.db import open_store
from mrt.store.models import CycleMetric, Outbox
from worker.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "share" / "grafana" / "mrt-dashboard.json"
ALERTS = ROOT / "share" / "prometheus" / "mrt-alerts.yml"
SECRET = "tok-SECRET-0123456789abcdef"
NAME = re.compile(r"\bmrt_[a-z0-9_]+")


@pytest.fixture
def exposition(tmp_path: Path) -> Iterator[str]:
    db = open_store(tmp_path / "mrt.sqlite3", now=NOW)
    try:
        metrics = WorkerMetrics(db, worker_id="host:1:abc", secrets=(SECRET,), clock=lambda: NOW)
        metrics.start_counting()  # what follows is this run's
        add_source("github:vllm-project/vllm", ratelimit_remaining=4990, consecutive_failures=2)
        CycleMetric.create(
            source_key="github:vllm-project/vllm", started_at=NOW, duration_ms=840, fetched=7,
            new_events=2, matched=1, http_statuses={"200": 2, "304": 1},
        )
        add_alert("vllm v0.9 released", deliveries=(
            ("chat", f"json://hooks.example/x?token={SECRET}", "retrying", "502"),
            ("chat", "json://hooks.example/x?token=***", "dead", "410"),
        ), at=NOW - timedelta(minutes=30))
        sending = add_alert("sglang v0.5 released", deliveries=(
            ("chat", "json://hooks.example/x?token=***", "sending", None),), at=NOW)
        Outbox.update(lease_owner="w1", lease_expires_at=NOW + timedelta(minutes=1)).where(
            Outbox.alert == sending).execute()
        beat(NOW)  # worker "w1"
        yield metrics.exposition().decode()
    finally:
        db.close()


def sample_names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def family_names(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in data["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict[str, object]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_the_exposition_has_every_series_and_no_secret(exposition: str) -> None:
    names = sample_names(exposition)
    assert {
        "mrt_source_polls_total", "mrt_source_events_fetched_total", "mrt_source_events_new_total",
        "mrt_source_events_matched_total", "mrt_source_http_requests_total",
        "mrt_source_not_modified_total", "mrt_source_cycle_duration_seconds_bucket",
        "mrt_source_health", "mrt_source_consecutive_failures", "mrt_source_ratelimit_remaining",
        "mrt_source_cursor_age_seconds", "mrt_delivery_attempts_total", "mrt_outbox_queue_depth",
        "mrt_outbox_oldest_pending_age_seconds", "mrt_outbox_dead",
        "mrt_worker_heartbeat_timestamp_seconds", "mrt_worker_leases_held", "mrt_build_info",
        "mrt_database_up",
    } <= names
    assert SECRET not in exposition
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(exposition) for s in f.samples
    }
    vllm = (("source", "github:vllm-project/vllm"),)
    assert values[("mrt_source_not_modified_total", vllm)] == 1
    assert values[("mrt_source_ratelimit_remaining", vllm)] == 4990
    assert values[("mrt_source_cursor_age_seconds", vllm)] == 120  # tui_seed: 2 minutes ago
    assert values[("mrt_source_http_requests_total", (*vllm, ("status", "200")))] == 2
    oldest = [v for (n, _), v in values.items() if n == "mrt_outbox_oldest_pending_age_seconds"]
    assert oldest == [1800.0]
    depth = [v for (n, _), v in values.items() if n == "mrt_outbox_queue_depth"]
    assert depth == [2.0]  # the retrying row and the one being sent
    assert values[("mrt_worker_leases_held", (("kind", "outbox"), ("worker", "w1")))] == 1
    assert values[("mrt_worker_leases_held", (("kind", "source"), ("worker", "w1")))] == 0
    assert values[("mrt_worker_heartbeat_timestamp_seconds",
                   (("version", "1.0"), ("worker", "w1")))] == NOW.timestamp()


def test_the_dashboard_names_only_exposed_series_and_shows_them_all(exposition: str) -> None:
    exposed = sample_names(exposition)
    used = {name for expr in dashboard_exprs() for name in NAME.findall(expr)}
    assert used and used <= exposed, used - exposed
    for family in family_names(exposition):
        assert any(name.startswith(family) for name in used), f"no panel shows {family}"


def test_the_alert_rules_cover_the_operators_cases_with_exposed_series(exposition: str) -> None:
    exposed = sample_names(exposition)
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "MrtWorkerDown", "MrtSourceFailing", "MrtDeadLetters", "MrtOldestPendingDelivery"}
    for rule in rules:
        names = set(NAME.findall(str(rule["expr"])))
        assert names and names <= exposed, (rule["alert"], names - exposed)
        assert rule["labels"]["severity"] in ("warning", "critical")  # type: ignore[index]
        assert rule["annotations"]["summary"]  # type: ignore[index]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(ALERTS)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
