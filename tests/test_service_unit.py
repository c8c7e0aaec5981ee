"""The systemd user unit: keys checked always, `systemd-analyze verify` where systemd exists."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from mrt.cli import main


def _parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_install_writes_a_user_unit_for_this_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = tmp_path / "mrt.toml"
    assert main(["service", "install", "--config", str(config)]) == 0
    unit = tmp_path / "systemd" / "user" / "mrt-worker.service"
    parsed = _parse(unit.read_text())
    service = parsed["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert service["WatchdogSec"]
    assert service["NoNewPrivileges"] == "yes"
    exec_start = service["ExecStart"]
    assert Path(exec_start.split()[0]).is_absolute() and exec_start.split()[0].endswith("mrt-worker")
    assert "--daemon" in exec_start and str(config.resolve()) in exec_start
    assert parsed["Install"]["WantedBy"] == "default.target"
    out = capsys.readouterr().out
    assert "systemctl --user daemon-reload" in out
    assert "systemctl --user enable --now mrt-worker.service" in out
    assert "loginctl enable-linger" in out
    # a second install refuses to clobber the operator's edits
    assert main(["service", "install"]) == 1


def test_packaged_unit_is_the_one_installed() -> None:
    root = Path(__file__).resolve().parents[1]
    packaged = root / "packaging" / "systemd" / "mrt-worker.service"
    assert packaged.read_text() == (root / "mrt" / "data" / "mrt-worker.service").read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    from mrt.commands.service import unit_text

    # verify resolves ExecStart: point it at an executable that exists here
    unit = tmp_path / "mrt-worker.service"
    unit.write_text(unit_text(f"{shutil.which('true')} --daemon"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
