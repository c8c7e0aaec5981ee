"""Keys MRT accepts but does not act on (ai.enabled without an endpoint to use, ai.embedding_model):
a file that has them keeps loading, and `mrt check` and the worker say they do nothing
(docs/CONFIG.md, "Keys accepted but not acted on yet"). observability.metrics_listen was one; the
worker now serves /metrics on it, so it is no longer warned about."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mrt.cli import main as mrt_main
from mrt.config import load_config_with_warnings
from worker.assembly import log_warnings

IDLE = """
version = 1

[sources.github]
repos = ["vllm-project/vllm"]

[observability]
metrics_listen = "127.0.0.1:9464"

[ai]
enabled = true
provider = "openai"
model = "gpt-4o-mini"
"""

AI_LINE = (
    "warn  ai.enabled: found true; but no ai.base_url: the AI enhancements stay off and nothing "
    "is sent to a model"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MRT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mrt_check_warns_that_the_keys_do_nothing_yet_and_still_passes(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "mrt.toml"
    path.write_text(IDLE, encoding="utf-8")

    assert mrt_main(["check", "--config", str(path)]) == 0

    out = capsys.readouterr().out
    assert AI_LINE in out
    assert "metrics_listen" not in out  # acted on now: the worker serves /metrics there
    assert "check: ready:" in out


def test_the_worker_logs_the_same_warnings(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = home / "mrt.toml"
    path.write_text(IDLE, encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        config = log_warnings(load_config_with_warnings(str(path), env={}))

    assert config.observability.metrics_listen == "127.0.0.1:9464"  # kept, as the file says
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert not any("metrics_listen" in m for m in logged)
    assert any("ai.enabled" in m and "nothing is sent to a model" in m for m in logged)


def test_a_file_that_asks_for_nothing_of_them_gets_no_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "mrt.toml"
    path.write_text(
        'version = 1\n[sources.github]\nrepos = ["vllm-project/vllm"]\n[ai]\nenabled = false\n',
        encoding="utf-8",
    )

    assert mrt_main(["check", "--config", str(path)]) == 0

    out = capsys.readouterr().out
    assert "not acted on yet" not in out
