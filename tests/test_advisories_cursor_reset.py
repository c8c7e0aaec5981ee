"""`mrt cursor reset KEY --to DATE` on the advisory sources, through the CLI between two real
worker cycles (build_runtime/run_once) on a real config and SQLite file: the next poll reports
the advisories changed after DATE once, and the one after reports nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from ghsa_support import ECOSYSTEM, PACKAGE, FakeAdvisories, advisory
from osv_support import PACKAGE as OSV_PACKAGE
from osv_support import FakeOsv
from pytest_httpserver import HTTPServer
from test_cursor_reset_sources import events_of, reset, worker_once, write_config
from test_source_support import T0


def test_osv_reports_the_advisories_modified_after_the_reset_date(
        tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeOsv(httpserver)
    fake.seed_recorded()
    config = write_config(tmp_path, {"osv": {"packages": [OSV_PACKAGE],
                                             "base_url": httpserver.url_for("/")}})
    worker_once(config, T0)
    assert events_of("osv:osv") == []
    reset(tmp_path, "osv:osv", "2023-03-20", capsys)
    worker_once(config, T0 + timedelta(minutes=5))
    # of the four recorded, two were modified after 2023-03-20 (both published long before)
    assert sorted(events_of("osv:osv")) == [("advisory_modified", "GHSA-wp72-7hj9-5265"),
                                            ("advisory_modified", "GHSA-xg73-94fp-g449")]
    worker_once(config, T0 + timedelta(minutes=10))
    assert len(events_of("osv:osv")) == 2


def test_ghsa_reports_the_advisories_updated_after_the_reset_date(
        tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeAdvisories(httpserver)
    fake.seed_recorded()
    fake.global_items.append(advisory("GHSA-vllm-0000-0001", "CVE-2026-0001", T0))
    key = f"ghsa:{ECOSYSTEM}/{PACKAGE}"
    config = write_config(tmp_path, {"ghsa": {
        "packages": [{"ecosystem": ECOSYSTEM, "name": PACKAGE}],
        "base_url": httpserver.url_for("/")}})
    worker_once(config, T0)
    assert events_of(key) == []
    reset(tmp_path, key, (T0 - timedelta(days=1)).strftime("%Y-%m-%d"), capsys)
    fake.requests.clear()
    worker_once(config, T0 + timedelta(minutes=5))
    assert events_of(key) == [("advisory_published", "GHSA-vllm-0000-0001")]
    assert "If-None-Match" not in fake.requests[0].headers  # a replay is never answered 304
    worker_once(config, T0 + timedelta(minutes=10))
    assert len(events_of(key)) == 1
