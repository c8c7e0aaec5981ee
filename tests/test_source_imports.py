"""A source plugin reaches MRT only through mrt.api (nvchecker's plugins import nvchecker.api).

Every module under mrt/sources/ (the contract types and the helpers mrt.api re-exports live
below it, in mrt/source_kit/) is parsed, and each import it makes must be
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
# a source is a module (mrt/sources/NAME.py) or a package of its own (mrt/sources/NAME/*.py)
SOURCE_FILES = sorted(
    [p for p in SOURCES.glob("*.py") if p.stem != "__init__"] + list(SOURCES.glob("*/*.py"))
)


def plugin_name(path: Path) -> str:
    return path.stem if path.parent == SOURCES else path.parent.name


def mrt_imports(path: Path) -> list[str]:
    """Every module of MRT (mrt, worker, tui) the file imports, with its line: "12 mrt.http"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1 and path.parent.parent == SOURCES:
                continue  # a module of the plugin's own package: still inside the plugin
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
    assert {plugin_name(p) for p in SOURCE_FILES} >= {"github", "huggingface", "modelscope"}


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: str(p.relative_to(SOURCES)))
def test_a_source_imports_only_mrt_api_the_stdlib_and_third_party(path: Path) -> None:
    assert mrt_imports(path) == [], f"{path.name} imports MRT other than through mrt.api"


def test_the_check_sees_an_import_past_the_facade(tmp_path: Path) -> None:
    bad = tmp_path / "bad_source.py"
    bad.write_text("import json\nimport httpx\nfrom mrt.api import PollResult\n"
                   "from mrt.http import HttpClient\nimport mrt.store.db\nfrom . import _items\n")
    assert mrt_imports(bad) == ["4 mrt.http", "5 mrt.store.db", "6 ."]
    assert "json" in sys.stdlib_module_names  # what the check leaves alone


# The v0 config file had exactly these three sections, and the v0 reader relaxes their v0
# spellings (empty token_env, empty repos/orgs) before any plugin sees them: that is the v0 file
# format, not knowledge of a platform.
# worker/webhooks.py is GitHub's webhook receiver (config `webhooks.github`): it speaks GitHub's
# delivery protocol (X-Hub-Signature-256, X-GitHub-Delivery) and hands the payload to the github
# plugin, which alone turns it into events.
PLATFORM_WORDS_ALLOWED = {Path("mrt/config/v0.py"), Path("worker/webhooks.py")}
ROOT = SOURCES.parent.parent


def platform_words(path: Path, words: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in words]


def test_no_layer_outside_the_sources_keeps_a_table_of_a_platform() -> None:
    """Display names, token costs, budgets, default targets, v0 cursors: each source says its
    own; a string naming a built-in platform or its host anywhere else is such a table."""
    import mrt.sources.github as github
    import mrt.sources.huggingface as huggingface
    import mrt.sources.modelscope as modelscope
    from mrt.sources.feeds import arxiv

    words = {"github", "huggingface", "modelscope", "arxiv"}
    for module in (github, huggingface, modelscope, arxiv):
        words |= {module.DISPLAY_NAME, *module.BUDGETS}
    assert words >= {"GitHub", "Hugging Face", "ModelScope", "api.github.com", "arXiv",
                     "export.arxiv.org"}
    found = [hit for top in ("mrt", "worker", "tui") for path in sorted((ROOT / top).rglob("*.py"))
             if SOURCES not in path.parents
             and path.relative_to(ROOT) not in PLATFORM_WORDS_ALLOWED
             for hit in platform_words(path, words)]
    assert found == []
