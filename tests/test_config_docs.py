"""Every JSON and TOML block in docs/CONFIG.md is a config that loads (urlwatch-style doc tests).

Each block goes through what `mrt check` and `mrt-worker` run: the file loader, then the rules
compiler (the loader alone accepts any rule body; the rules are read by mrt.rules).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mrt.config import load_config
from mrt.rules import compile_rules

DOC = Path(__file__).resolve().parent.parent / "docs" / "CONFIG.md"
BLOCKS = re.findall(r"```(json|toml)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("fmt", "text"), BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_block_loads_as_mrt_check_loads_it(fmt: str, text: str, tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads(text) if fmt == "json" else tomllib.loads(text)
    path = tmp_path / f"config.{fmt}"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    ruleset = compile_rules(config)
    assert config.sources
    assert len(ruleset.rules) >= len(data.get("rules", []))


def test_the_doc_v0_block_is_the_shipped_example() -> None:
    shipped = (DOC.parent.parent / "share" / "examples" / "v0-config.json").read_text()
    assert ("json", shipped) in BLOCKS


@pytest.mark.parametrize(
    "path", sorted((DOC.parent.parent / "share" / "examples").iterdir()), ids=lambda p: p.name
)
def test_the_worker_starts_on_every_shipped_example(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `mrt-worker` builds before its first poll: config, rules, database, channels."""
    import asyncio

    from doc_blocks import dummy_value
    from test_source_support import FakeClock, make_pool

    from mrt.config import env_requirements
    from worker.assembly import build_runtime

    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.chdir(tmp_path)
    env = {req.name: dummy_value(req) for req in env_requirements(load_config(path, env={}))}
    runtime = asyncio.run(build_runtime(str(path), env=env, pool=make_pool(FakeClock())))
    try:
        assert runtime.engine.ruleset.rules
    finally:
        runtime.db.close()
