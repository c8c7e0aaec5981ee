"""`mrt check` on configs naming the advisory sources: they are listed, GitHub advisories say
what polling without their token costs, and a wrong section names the file, field and value."""

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
[sources.osv]
packages = [{{ecosystem = "PyPI", name = "vllm"}}, {{ecosystem = "npm", name = "openai"}}]
[sources.ghsa]
packages = [{{ecosystem = "pip", name = "vllm"}}]
repos = ["vllm-project/vllm"]
token_env = "GITHUB_TOKEN"
"""


def test_check_lists_both_sources_and_the_github_token_cost(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(home, "mrt.toml", GOOD.format(db=home / "state.sqlite3"))
    code, out = run_check(capsys, "--config", str(path))
    assert code == 0, out
    assert "osv, ghsa" in line_of(out, "sources")
    assert "shared with every other GitHub source" in line_of(out, "env GITHUB_TOKEN")


@pytest.mark.parametrize("section, named", [
    ('[sources.osv]\npackages = [{ecosystem = "PyPI"}]\n', "packages[0].name: required key"),
    ("[sources.osv]\npackages = []\n", "packages"),
    ('[sources.ghsa]\ntoken_env = "GITHUB_TOKEN"\n', "at least one package or repo"),
    ('[sources.ghsa]\nrepos = ["vllm"]\n', "'vllm' is not of the form owner/repo"),
])
def test_a_wrong_advisory_section_is_a_specific_error(
        home: Path, capsys: pytest.CaptureFixture[str], section: str, named: str) -> None:
    path = write(home, "mrt.toml", f"version = 1\n{section}")
    code = main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert f"{path}: sources." in err and named in err, err
