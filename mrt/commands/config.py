"""`mrt config schema` (the JSON Schema for editors) and `mrt config show` (the effective config)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mrt.commands._output import add_json_option
from mrt.config import Config, config_json_schema_text, database_display, load_config, placeholders
from mrt.plugins import source_plugins


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser("config", help="the config's schema and effective values")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = sub.add_parser(
        "schema",
        parents=[common],
        help="print the JSON Schema of the config (installed source plugins included)",
    )
    add_json_option(schema)  # always JSON: accepted so a script can pass --json everywhere
    schema.set_defaults(func=run_schema)
    show = sub.add_parser(
        "show", parents=[common], help="print the config as MRT reads it, defaults filled in (JSON)"
    )
    add_json_option(show)
    show.set_defaults(func=run_show)


def run_schema(args: argparse.Namespace) -> int:
    print(config_json_schema_text(source_plugins()), end="")
    return 0


def shown_config(config: Config) -> dict[str, Any]:
    """The config as plain data with literal channel URLs and database passwords hidden."""
    data = config.model_dump(mode="json")
    data["sources"] = {n: s.model_dump(mode="json") for n, s in config.sources.items()}
    # v0's notify sections are the channels "welink" and "email" once loaded: shown there,
    # with the description they are sent by (secrets as variable names), and only there
    data.pop("notify", None)
    # likewise v0's watch_keywords: shown as the rule they became, marked by its origin
    data.pop("watch_keywords", None)
    for rule in data.get("rules", []):
        if rule.get("origin") == "rules":
            del rule["origin"]
        if not rule.get("blank_keywords"):
            rule.pop("blank_keywords", None)
    for channel in data.get("channels", {}).values():
        for key in ("welink_robot", "smtp"):
            if channel.get(key) is None:
                channel.pop(key, None)
        # a URL with ${NAME} keeps its secret in the environment; a literal one may not
        channel["urls"] = [
            u if placeholders(u) else u.split("://", 1)[0] + "://…" for u in channel["urls"]
        ]
    if config.state.url:
        data["state"]["url"] = database_display(config)
    return data


def run_show(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(json.dumps(shown_config(config), indent=2, ensure_ascii=False))
    return 0
