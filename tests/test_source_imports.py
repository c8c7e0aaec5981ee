"""A source plugin reaches MRT only through mrt.api (nvchecker's plugins import nvchecker.api).

Every module under mrt/sources/ except the facade's own pieces (base: the contract types;
_items, _timestamps: helpers mrt.api re-exports) is parsed, and each import it makes must be
mrt.api, the stdlib or a third-party package. The import-linter contract "Sources reach MRT only
through mrt.api" (pyproject.toml) says the same for the built-ins it lists; this test also
covers a source added later without editing that list.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import mrt.sources

SOURCES = Path(mrt.sources.__file__).parent
FACADE_PARTS = {"__init__", "base", "_items", "_timestamps"}
SOURCE_FILES = sorted(p for p in SOURCES.glob("*.py") if p.stem not in FACADE_PARTS)


def mrt_imports(path: Path) -> list[str]:
    """Every module of MRT (mrt, worker, tui) the file imports, with its line: "12 mrt.http"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside mrt.sources, never the facade
                names = [f"{'.' * node.level}{node.module or ''}"]
            else:
                names = [node.module or ""]
        else:
            continue
        found += [f"{node.lineno} {name}" for name in names
                  if name.startswith(".") or name.split(".")[0] in ("mrt", "worker", "tui")]
    return [entry for entry in found if entry.split()[1] != "mrt.api"]


def test_the_built_in_sources_are_all_checked() -> None:
    assert {p.stem for p in SOURCE_FILES} >= {"github", "huggingface", "modelscope"}


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: p.stem)
def test_a_source_imports_only_mrt_api_the_stdlib_and_third_party(path: Path) -> None:
    assert mrt_imports(path) == [], f"{path.name} imports MRT other than through mrt.api"


def test_the_check_sees_an_import_past_the_facade(tmp_path: Path) -> None:
    bad = tmp_path / "bad_source.py"
    bad.write_text("import json\nimport httpx\nfrom mrt.api import PollResult\n"
                   "from mrt.http import HttpClient\nimport mrt.store.db\nfrom . import _items\n")
    assert mrt_imports(bad) == ["4 mrt.http", "5 mrt.store.db", "6 ."]
    assert "json" in sys.stdlib_module_names  # what the check leaves alone
