"""`mrt cursor reset KEY --to DATE` on the PyPI and npm sources: the real worker cycle on a real
config file and SQLite file, the recorded payloads on loopback, the reset through the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_cursor_reset_sources import events_of, reset, worker_once, write_config
from test_source_npm import FakeRegistry
from test_source_npm import recorded as npm_recorded
from test_source_pypi import FakePyPI
from test_source_pypi import recorded as pypi_recorded
from test_source_support import T0

from mrt.store.models import SourceState


def test_pypi_reports_again_the_versions_uploaded_after_the_date(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakePyPI(httpserver, pypi_recorded())
    key = "pypi:azure-cli-monitor"
    config = write_config(tmp_path, {"pypi": {"projects": ["Azure_CLI.Monitor"],
                                              "base_url": httpserver.url_for("/")}})
    worker_once(config, T0)
    worker_once(config, T0 + timedelta(minutes=5))
    assert events_of(key) == [] and fake.statuses == [200, 304]

    out = reset(tmp_path, key, "2018-05-01", capsys)
    assert "the next poll reads from 2018-05-01T00:00:00Z" in out
    worker_once(config, T0 + timedelta(minutes=10))
    # the validators went with the reset: a full read, and 0.1.6 (May 7th) and 0.1.7 (May 22nd)
    assert fake.statuses[-1] == 200
    assert events_of(key) == [("version_published", "azure-cli-monitor")] * 2
    assert SourceState.get_by_id(key).cursor == {"published_after": "2018-05-22T17:25:23Z"}


def test_npm_after_a_reset_reports_what_differs_from_its_snapshot(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeRegistry(httpserver, npm_recorded())
    key = "npm:tiny-tarball"
    config = write_config(tmp_path, {"npm": {"packages": ["tiny-tarball"],
                                             "base_url": httpserver.url_for("/")}})
    worker_once(config, T0)
    reset(tmp_path, key, "2015-01-01", capsys)
    fake.publish("1.1.0", tag=None)
    worker_once(config, T0 + timedelta(minutes=5))
    assert events_of(key) == [("version_published", "tiny-tarball")]
    assert SourceState.get_by_id(key).cursor == {"modified": "2026-11-22T08:00:00Z"}
