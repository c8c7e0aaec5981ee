"""The committed JSON Schema accepts every shipped example and rejects what the loader rejects.

Editors (VS Code's JSON support, taplo for TOML) validate with this schema, so a schema that
disagreed with the loader would flag good files or pass bad ones.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "share" / "mrt-config.schema.json").read_text())
EXAMPLES = sorted((ROOT / "share" / "examples").iterdir())


def _data(path: Path) -> dict[str, Any]:
    text = path.read_text()
    loaded: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    return loaded


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_schema_accepts_the_examples(path: Path) -> None:
    jsonschema.validate(_data(path), SCHEMA)


@pytest.mark.parametrize(
    "bad",
    [
        {"watch_keyword": ["typo"]},
        # v0's poll_interval_seconds 5 loads with a warning; the v1 interval stays strict
        {"sources": {"github": {"repos": ["a/b"], "interval_seconds": 5}}},
        {"sources": {"github": {"repos": ["a/b"], "tokn_env": "X"}}},
        {"sources": {"huggingface": {"token_env": "HF_TOKEN"}}},
        {"notify": {"welink": {"at_accounts": [f"u{i}" for i in range(11)]}}},
        {"delivery": {"cursor_policy": "lax"}},
    ],
)
def test_schema_rejects_what_the_loader_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
