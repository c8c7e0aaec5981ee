"""Every JSON and TOML block in docs/CONFIG.md is a config that loads (urlwatch-style doc tests)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mrt.config import config_from_dict

DOC = Path(__file__).resolve().parent.parent / "docs" / "CONFIG.md"
BLOCKS = re.findall(r"```(json|toml)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("fmt", "text"), BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_block_loads(fmt: str, text: str) -> None:
    data: dict[str, Any] = json.loads(text) if fmt == "json" else tomllib.loads(text)
    config = config_from_dict(data, file=f"{DOC.name} ({fmt} block)")
    assert config.sources


def test_the_doc_v0_block_is_the_shipped_example() -> None:
    shipped = (DOC.parent.parent / "share" / "examples" / "v0-config.json").read_text()
    assert ("json", shipped) in BLOCKS
