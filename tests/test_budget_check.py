"""`mrt check` prints one budget line per upstream host the config's sources poll: the host's
budget (from the plugins' BUDGETS), which sources share it, and what the config asks of it an
hour at its schedules; it warns (exit still 0) when that reaches the budget, or GitHub's 60
requests an hour for the sources that have no token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_config_check import home, line_of, run_check, write

__all__ = ["home"]  # the fixture, shared

THREE = """
version = 1
[state]
sqlite_path = "{db}"
[sources.github]
repos = ["vllm-project/vllm", "sgl-project/sglang"]
token_env = "GITHUB_TOKEN"
interval_seconds = 600
[sources.arxiv]
queries = ['cat:cs.CL AND abs:"mixture of experts"']
categories = ["cs.LG"]
interval_seconds = 900
[sources.pypi]
projects = ["vllm", "transformers", "torch"]
cron = "*/5 * * * *"
"""


def test_each_host_gets_its_budget_and_the_configs_demand(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_BUDGETTEST0001")
    path = write(home, "mrt.toml", THREE.format(db=home / "state.sqlite3"))
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0, out
    assert line_of(out, "budget export.arxiv.org") == (
        "ok    budget export.arxiv.org: 1 request every 3 s, 1 at a time (arxiv: 2 sources); "
        "at these schedules at least 8 requests an hour"
    )
    assert line_of(out, "budget api.github.com") == (
        "ok    budget api.github.com: 80 requests a minute, 2 at a time (github: 2 sources); "
        "at these schedules at least 12 requests an hour"
    )
    # a cron of every 5 minutes: 12 polls in its busiest hour, 3 projects
    assert line_of(out, "budget pypi.org") == (
        "ok    budget pypi.org: 120 requests a minute, 4 at a time (pypi: 3 sources); "
        "at these schedules at least 36 requests an hour"
    )
    assert out.index("ok    sources:") < out.index("budget ") < out.index("ok    rules:")


def test_the_real_entry_point_prints_the_budget_lines(home: Path) -> None:
    path = write(home, "mrt.toml", THREE.format(db=home / "state.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-m", "mrt", "check", "--config", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    budget export.arxiv.org: 1 request every 3 s" in done.stdout


def test_twenty_arxiv_queries_every_minute_warn_and_say_what_to_change(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = ", ".join(f'"cat:cs.CL AND abs:topic{i}"' for i in range(20))
    text = f'version = 1\n[state]\nsqlite_path = "{home / "s.sqlite3"}"\n'
    text += f"[sources.arxiv]\nqueries = [{queries}]\ninterval_seconds = 60\n"
    code, out = run_check(capsys, "--config", str(write(home, "mrt.toml", text)))
    assert code == 0, out  # a warning, not an error
    line = line_of(out, "budget export.arxiv.org")
    assert line.startswith("warn  budget export.arxiv.org: 1 request every 3 s, 1 at a time "
                           "(arxiv: 20 sources); at these schedules at least 1,200 requests"), line
    assert "the budget allows 1,200" in line
    assert "stretches each interval to 60 s" in line
    assert "longer interval" in line and "fewer" in line
    assert "check: ready: 0 error(s)" in out


def test_a_polite_arxiv_config_does_not_warn(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = ", ".join(f'"abs:topic{i}"' for i in range(20))
    text = f"version = 1\n[sources.arxiv]\nqueries = [{queries}]\ninterval_seconds = 3600\n"
    code, out = run_check(capsys, "--config", str(write(home, "mrt.toml", text)))
    assert code == 0, out
    assert line_of(out, "budget export.arxiv.org").startswith("ok    ")


GITHUB_MANY = """
version = 1
[sources.github]
repos = [{repos}]
token_env = "GITHUB_TOKEN"
interval_seconds = 300
"""


def test_github_without_a_token_warns_about_the_anonymous_60_an_hour(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repos = ", ".join(f'"org/repo{i}"' for i in range(10))
    path = write(home, "mrt.toml", GITHUB_MANY.format(repos=repos))
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0, out
    line = line_of(out, "budget api.github.com")
    assert line.startswith("warn  "), line
    assert "without a token api.github.com allows 60 requests an hour" in line
    assert "10 source(s) without one ask at least 120" in line
    assert "set GITHUB_TOKEN, a longer interval, or fewer sources" in line
    assert "GitHub allows 60 requests an hour" in line_of(out, "env GITHUB_TOKEN")

    # the same config with the token set: 120 an hour is well inside 80 a minute
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_BUDGETTEST0002")
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0 and line_of(out, "budget api.github.com").startswith("ok    "), out


def test_a_local_source_has_no_budget_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = home / "models"
    models.mkdir()
    path = write(home, "mrt.toml", f'version = 1\n[sources.modeldir]\npaths = ["{models}"]\n')
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0 and "budget " not in out, out


def test_an_osv_source_gets_its_budget_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """osv's base_url(config) once took no env: source_host (and so the worker's interval
    floors) raised TypeError on any config with an osv section."""
    text = ('version = 1\n[sources.osv]\n'
            'packages = [{ecosystem = "PyPI", name = "vllm"}]\n')
    code, out = run_check(capsys, "--config", str(write(home, "mrt.toml", text)))
    assert code == 0, out
    assert line_of(out, "budget api.osv.dev").startswith(
        "ok    budget api.osv.dev: 60 requests a minute, 2 at a time (osv: 1 source)")
