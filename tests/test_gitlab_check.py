"""`mrt check` on a config naming GitLab: the source is listed, its unset token says what polling
without it costs, and a wrong project path names the file, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config_check import home, line_of, run_check, write

from mrt.cli import main

__all__ = ["home"]  # the fixture, shared

GOOD = """
version = 1
[state]
sqlite_path = "{db}"
[sources.gitlab]
projects = ["gitlab-org/gitlab-runner", "inkscape/inkscape"]
token_env = "GITLAB_TOKEN"
monitor = {{releases = true, tags = true}}
"""


def test_check_lists_gitlab_and_its_token_need(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "mrt.toml", GOOD.format(db=home / "state.sqlite3"))
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0, out
    assert "gitlab" in line_of(out, "sources")
    assert "only public projects are seen" in line_of(out, "env GITLAB_TOKEN")


@pytest.mark.parametrize("section, named", [
    ('[sources.gitlab]\nprojects = ["justone"]\n', "'justone'"),
    ("[sources.gitlab]\nprojects = []\n", "projects"),
    ('[sources.gitlab]\nprojects = ["a/b"]\nmonitor = {wikis = true}\n', "wikis"),
])
def test_a_wrong_gitlab_section_is_a_specific_error(
        home: Path, capsys: pytest.CaptureFixture[str], section: str, named: str) -> None:
    path = write(home, "mrt.toml", f"version = 1\n{section}")
    code = main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert f"{path}: sources.gitlab" in err and named in err, err
