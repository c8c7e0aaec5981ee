"""share/man/*.1: generated from the parsers, current, and rendered by man/groff."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

MAN = Path(__file__).resolve().parent.parent / "share" / "man"
PAGES = ("mrt.1", "mrt-worker.1", "mrt-tui.1")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regenerate_man", MAN / "regenerate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_pages_are_what_the_parsers_give() -> None:
    generated = {path.name: text for path, text in _generator().pages().items()}
    assert sorted(generated) == sorted(PAGES)
    for name, text in generated.items():
        checked_in = (MAN / name).read_text(encoding="utf-8")
        assert checked_in == text, f"share/man/{name} is stale: run python share/man/regenerate.py"


def test_a_new_option_makes_the_page_stale(tmp_path: Path) -> None:
    """--check names the page whose parser changed, and exits 1 (what CI runs)."""
    gen = _generator()
    for name in PAGES:
        shutil.copy(MAN / name, tmp_path / name)
    gen.HERE = tmp_path
    assert gen.main(["--check"]) == 0
    text = (tmp_path / "mrt-tui.1").read_text(encoding="utf-8")
    (tmp_path / "mrt-tui.1").write_text(text.replace("--read-only", "--read-0nly"), encoding="utf-8")
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0  # regenerating rewrites it
    assert (tmp_path / "mrt-tui.1").read_text(encoding="utf-8") == text


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page: str) -> None:
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (Debian: apt-get install groff-base)")
    result = subprocess.run([groff, "-man", "-Tutf8", "-ww", str(MAN / page)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    shown = re.sub(".\b", "", result.stdout)  # bold and underline are overstrikes
    assert "SYNOPSIS" in shown and "OPTIONS" in shown


def test_man_shows_every_mrt_command() -> None:
    man = shutil.which("man")
    if man is None or shutil.which("groff") is None:
        pytest.skip("man or groff is not installed (Debian: apt-get install man-db groff-base)")
    result = subprocess.run([man, "-l", str(MAN / "mrt.1")], capture_output=True, text=True,
                            timeout=30, env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100",
                                              "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    for line in ("mrt db backup", "mrt outbox retry", "mrt completion"):
        assert line in result.stdout
    assert "--all-dead" in result.stdout


def test_generator_runs_as_a_script() -> None:
    result = subprocess.run([sys.executable, str(MAN / "regenerate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
