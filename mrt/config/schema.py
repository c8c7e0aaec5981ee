"""The JSON Schema of the config, generated from the models, for editors to complete and check.

`sources` gets one property per source plugin (its own Config model), so an editor knows the
keys of `sources.github`; other section names may name a plugin through `type`. `rules` items
are mrt.rules.model.RuleSchema, the models whose keys and leaf specs the rules parser uses
(the config model only carries a rule's name and leaves the rest to mrt.rules).
share/mrt-config.schema.json is this output for the built-in plugins; a test keeps them equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from mrt.config.models import Config
from mrt.plugins import source_plugins
from mrt.rules.model import RuleSchema

SCHEMA_ID = "https://model-release-tracker.invalid/mrt-config.schema.json"


def builtin_source_plugins() -> dict[str, ModuleType]:
    return {n: m for n, m in source_plugins().items() if m.__name__.startswith("mrt.")}


def _schema_of(model: type[BaseModel], defs: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The model's schema with its $defs moved into `defs` under prefixed names."""
    schema = model.model_json_schema(by_alias=True, ref_template=f"#/$defs/{prefix}{{model}}")
    for name, definition in schema.pop("$defs", {}).items():
        defs[f"{prefix}{name}"] = definition
    return schema


def config_json_schema(plugins: Mapping[str, ModuleType] | None = None) -> dict[str, Any]:
    plugins = builtin_source_plugins() if plugins is None else plugins
    defs: dict[str, Any] = {}
    schema = _schema_of(Config, defs, "")
    schema["properties"].pop("source_path", None)
    schema["properties"]["$schema"] = {"type": "string", "description": "this schema's URL"}
    sections: dict[str, Any] = {}
    for name in sorted(plugins):
        model = getattr(plugins[name], "Config", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            section = _schema_of(model, defs, f"{name}_")
            section["title"] = f"sources.{name}"
            defs[f"{name}_section"] = section
            sections[name] = {"$ref": f"#/$defs/{name}_section"}
    schema["properties"]["sources"] = {
        "title": "Sources",
        "description": "one section per source; `type` names the plugin (default: the section name)",
        "type": "object",
        "properties": sections,
        "additionalProperties": {
            "anyOf": list(sections.values()) or [{"type": "object"}],
        },
    }
    defs.pop("SourceSection", None)
    defs["RuleConfig"] = _schema_of(RuleSchema, defs, "rule_")
    schema["$defs"] = dict(sorted(defs.items()))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def config_json_schema_text(plugins: Mapping[str, ModuleType] | None = None) -> str:
    return json.dumps(config_json_schema(plugins), indent=2, ensure_ascii=False) + "\n"
