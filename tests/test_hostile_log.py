"""Log lines never carry upstream escapes: the real logging setup, and a real worker cycle.

The worker's `--once` runs against a loopback GitHub that answers an HTML page full of the hostile
corpus; its log (text and JSON lines) and its printed summary are read as the terminal would get
them. Then every corpus string goes through configure_logging as a message argument, a context
field and an exception message.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mrt.logs import configure_logging
from tests.hostile import CASES, STORABLE, assert_inert
from worker.main import main as worker_main

HTML = "<html><title>\x1b]0;pwned\x07\x1b[2J</title>" + " | ".join(STORABLE.values()) + "</html>"


@pytest.fixture
def upstream_config(tmp_path: Path, httpserver: HTTPServer) -> Path:
    httpserver.expect_request("/repos/o/r/issues").respond_with_data(
        HTML.encode("utf-8"), status=200, content_type="text/html; charset=utf-8"
    )
    path = tmp_path / "mrt.toml"
    path.write_text(
        f'[state]\nsqlite_path = "{tmp_path / "mrt.sqlite3"}"\n'
        f'[sources.github]\nrepos = ["o/r"]\nbase_url = "{httpserver.url_for("/").rstrip("/")}"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_worker_cycle_logs_an_html_error_body_inert(
    upstream_config: Path, capfd: pytest.CaptureFixture[str], fmt: str
) -> None:
    try:
        code = worker_main(["--config", str(upstream_config), "--once", "--log-format", fmt])
    finally:
        logging.getLogger().handlers.clear()
    out, err = capfd.readouterr()

    assert code == 3  # the source failed, and says so
    assert "HTML page instead of JSON" in err and "answered an HTML page" in out
    assert_inert(out)
    assert_inert(err)
    assert "pwned" not in err and "pwned" not in out  # the OSC title went whole
    if fmt == "json":
        for line in err.strip().splitlines():
            json.loads(line)


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_corpus_string_is_inert_in_the_log(text: str, fmt: str) -> None:
    out = io.StringIO()
    configure_logging(fmt, "info", stream=out)
    log = logging.getLogger("mrt.test")
    try:
        log.warning("poll failed: %s", text, extra={"source_key": text, "channel": text})
        try:
            raise RuntimeError(text)
        except RuntimeError:
            log.exception("send failed: %s", text, extra={"outbox_id": 3})
    finally:
        logging.getLogger().handlers.clear()
    written = out.getvalue()
    assert_inert(written)
    first = written.split("\n", 1)[0]
    assert first.startswith("{") if fmt == "json" else " WARNING " in first
    if fmt == "json":
        assert [json.loads(line)["level"] for line in written.strip().split("\n")] == [
            "warning", "error"
        ]
