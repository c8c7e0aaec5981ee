"""`mrt cursor reset KEY --to DATE` on the PyPI, npm and GitLab sources: the real worker cycle on a real
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


def test_gitlab_reads_again_from_the_date_and_reports_only_what_it_had_not_seen(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_source_gitlab import PROJECT, FakeGitLab

    fake = FakeGitLab(httpserver)
    key = f"gitlab-issues:{PROJECT}"
    config = write_config(tmp_path, {"gitlab": {"projects": [PROJECT],
                                                "base_url": httpserver.url_for("/"),
                                                "monitor": {"merge_requests": False}}})
    worker_once(config, T0)
    assert SourceState.get_by_id(key).cursor == {"since": "2016-01-04T15:31:51Z"}
    # an issue the baseline's newest page did not hold (older than the cursor), then the reset
    fake.add("issues", iid=3, state="closed", created_at="2015-06-01T00:00:00Z",
             updated_at="2015-06-02T00:00:00Z")
    out = reset(tmp_path, key, "2015-01-01", capsys)
    assert "the next poll reads from 2015-01-01T00:00:00Z" in out
    worker_once(config, T0 + timedelta(minutes=5))
    assert fake.requests[-1].args["updated_after"] == "2015-01-01T00:00:00Z"
    assert events_of(key) == [("issue_closed", f"{PROJECT}#3")]  # #6 was seen at this update
    assert SourceState.get_by_id(key).cursor == {"since": "2016-01-04T15:31:51Z"}
