"""Finding, reading and validating the config file (JSON or TOML), and the built-in default.

Discovery: the `--config` argument, then `$MRT_CONFIG`, then the user config directory
(`<platformdirs user config dir>/mrt/config.toml`, then `config.json`); with none of them, the
built-in default (the v0 targets, alerts printed to the terminal).

Every problem found is collected and raised together as one InvalidConfig, so a user fixes a file
in one go rather than one error per run.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from mrt.config.checks import PLACEHOLDER
from mrt.config.errors import ConfigProblem, InvalidConfig, did_you_mean, problems_from, show_value
from mrt.config.idle import idle_warnings
from mrt.config.limits import (
    MAX_CONFIG_DEPTH,
    deepest_path,
    read_capped,
    too_deep,
    too_large,
)
from mrt.config.models import Config, SourceSection
from mrt.config.refs import reference_problems
from mrt.config.spacing import spacing_warnings
from mrt.config.v0 import (
    ConfigWarning,
    env_warnings,
    relax_v0,
    v0_state_file,
    without_translation_keys,
)
from mrt.errors import MissingSecretError
from mrt.plugins import default_sections, source_plugins

if TYPE_CHECKING:
    import tomllib


APP = "mrt"
CONFIG_NAMES = ("config.toml", "config.json")
TOML_TABLE = re.compile(r"\[\[?\s*(?!(?:true|false|null)\b)[A-Za-z_]")  # [table] / [[array]]
SCHEMA_KEY = "$schema"  # editors' pointer to the JSON Schema: allowed, ignored

DEFAULT_CONFIG_DATA: dict[str, Any] = {
    "poll_interval_seconds": 300,
    "watch_keywords": ["deepseek", "qwen"],
    "channels": {"console": {"type": "console"}},
}


def default_config_data() -> dict[str, Any]:
    """The config MRT runs with when there is no file: v0's keywords, alerts on the terminal,
    and each installed source's own DEFAULT_SECTION (the built-ins: v0's targets)."""
    return {**copy.deepcopy(DEFAULT_CONFIG_DATA), "sources": default_sections()}


def default_config() -> Config:
    """What MRT runs with when there is no config file (default_config_data)."""
    return config_from_dict(default_config_data())


def user_config_dir() -> Path:
    """`$XDG_CONFIG_HOME/mrt` on Linux (platformdirs), the platform's equivalent elsewhere."""
    import platformdirs  # on use: a worker given --config and a database path never asks

    return platformdirs.user_config_path(APP)


def config_search_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where a config is looked for when no `--config` is given, in order."""
    env = os.environ if env is None else env
    paths = [Path(env["MRT_CONFIG"]).expanduser()] if env.get("MRT_CONFIG") else []
    return paths + [user_config_dir() / name for name in CONFIG_NAMES]


def find_config_file(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> Path | None:
    """The file discovery picks, or None for the built-in default.

    An explicit path (argument or $MRT_CONFIG) must exist: a typo there must not silently fall
    back to the default.
    """
    env = os.environ if env is None else env
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    if env.get("MRT_CONFIG"):
        return Path(env["MRT_CONFIG"]).expanduser()
    for candidate in (user_config_dir() / name for name in CONFIG_NAMES):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid config and what the loader has to say about it (v0 values it reads its own way)."""

    config: Config
    warnings: tuple[ConfigWarning, ...] = ()


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Discover, read and validate the config; InvalidConfig lists every problem found."""
    return load_config_with_warnings(path, env=env).config


def load_config_with_warnings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """`load_config`, and the warnings that `mrt check` prints and the worker logs."""
    env = os.environ if env is None else env
    found = find_config_file(path, env=env)
    if found is None:
        return LoadedConfig(default_config())
    from_env = not path and bool(env.get("MRT_CONFIG"))
    data = read_config_file(found, named_by=" (named by $MRT_CONFIG)" if from_env else "")
    data, state = v0_state_file(data, Path.cwd(), str(found))
    loaded = config_with_warnings(data, file=str(found))
    more = env_warnings(loaded.config, env, str(found))
    return LoadedConfig(loaded.config, (*state, *loaded.warnings, *more))


def read_config_file(path: Path, *, named_by: str = "") -> dict[str, Any]:
    file = str(path)
    try:
        raw = read_capped(path)
    except FileNotFoundError:
        raise _one(f"cannot read the config file: no such file{named_by}", file) from None
    except IsADirectoryError:
        raise _one("cannot read the config file: it is a directory", file) from None
    except PermissionError:
        raise _one("cannot read the config file: permission denied", file) from None
    except OSError as exc:
        raise _one(f"cannot read the config file: {exc.strerror}", file) from None
    if raw is None:
        raise _one(too_large(path), file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _one(
            f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})", file
        ) from None
    return parse_config_text(text, file=file, fmt=_format_of(path, text))


def _format_of(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".toml":
        return "toml"
    # "[sources.github]" opens a TOML table; "[" followed by anything else is a JSON array
    head = text.lstrip()
    if head.startswith("{") or (head.startswith("[") and not TOML_TABLE.match(head)):
        return "json"
    return "toml"


def parse_config_text(text: str, *, file: str | None = None, fmt: str = "toml") -> dict[str, Any]:
    """Parse JSON or TOML; a syntax error names the line and column."""
    data: Any
    deep = too_deep(text, fmt)
    if deep:  # before the parsers, which recurse once per level (RecursionError at ~1,000)
        raise _one(deep, file)
    if fmt == "json":
        if not text.strip():
            raise _one("invalid JSON: the file is empty (an empty config is {})", file)
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise _one(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file
            ) from None
        except _DuplicateKey as exc:
            raise _one(
                f"invalid JSON: the key {exc.key!r} appears twice in one object", file
            ) from None
    else:
        import tomllib  # on use: a JSON config never needs it

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _one(f"invalid TOML {_toml_where(exc)}", file) from None
    if not isinstance(data, dict):
        raise _one(f"found {show_value(data, ())} at the top level, expected a table of keys", file)
    where = deepest_path(data)
    if where is not None:  # dotted TOML keys nest without brackets
        raise _one(f"nested more than {MAX_CONFIG_DEPTH} levels deep", file, where)
    return data


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would keep the last silently: ambiguous, so say it
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _toml_where(exc: tomllib.TOMLDecodeError) -> str:
    match = re.search(r"(.*) \(at line (\d+), column (\d+)\)", str(exc))
    if match:
        return f"at line {match[2]}, column {match[3]}: {match[1]}"
    match = re.search(r"(.*) \(at end of document\)", str(exc))
    if match:
        return f"at the end of the file: {match[1]}"
    return f": {exc}"


def _one(message: str, file: str | None, path: str = "") -> InvalidConfig:
    return InvalidConfig([ConfigProblem(message, path, file)])


def config_from_dict(data: dict[str, Any], *, file: str | None = None) -> Config:
    """Validate parsed config data (either format); InvalidConfig lists every problem."""
    return config_with_warnings(data, file=file).config


def config_with_warnings(data: dict[str, Any], *, file: str | None = None) -> LoadedConfig:
    """`config_from_dict` and its warnings; v0 values are read as v0 read them first."""
    data, warnings = relax_v0(data, file)
    config = _validate(data, file)
    return LoadedConfig(
        config, (*warnings, *idle_warnings(config, file), *spacing_warnings(config, file))
    )


def _validate(data: dict[str, Any], file: str | None) -> Config:
    problems: list[ConfigProblem] = []
    rest = {k: v for k, v in data.items() if k not in ("sources", SCHEMA_KEY)}
    if "source_path" in rest:  # a field of Config, but not a key a user may write
        hint = did_you_mean("source_path", ["sources"])
        problems.append(ConfigProblem(f"unknown key 'source_path'{hint}", "source_path", file))
        del rest["source_path"]
    rest, refused = without_translation_keys(rest, file)
    problems += refused
    config: Config | None = None
    try:
        config = Config.model_validate(rest)
    except ValidationError as exc:
        problems += problems_from(exc, Config, file=file)
    sources = _validate_sources(data.get("sources", {}), file, problems)
    if config is not None:
        config = config.model_copy(
            update={"sources": sources, "source_path": Path(file) if file else None}
        )
        problems += cross_check(config, file)
    if problems or config is None:
        raise InvalidConfig(problems)
    return config


def _validate_sources(
    raw: Any, file: str | None, problems: list[ConfigProblem]
) -> dict[str, SourceSection]:
    if not isinstance(raw, dict):
        found = show_value(raw, ("sources",))
        problems.append(
            ConfigProblem(f"found {found}, expected a table of source sections", "sources", file)
        )
        return {}
    plugins = source_plugins()
    sections: dict[str, SourceSection] = {}
    for name, section in raw.items():
        where = f"sources.{name}"
        if not isinstance(section, dict):
            found = show_value(section, ("sources", name))
            problems.append(ConfigProblem(f"found {found}, expected a table of keys", where, file))
            continue
        plugin_name = section.get("type") or name
        if not isinstance(plugin_name, str):
            found = show_value(plugin_name, ())
            problems.append(
                ConfigProblem(f"found {found}, expected a plugin name", f"{where}.type", file)
            )
            continue
        module = plugins.get(plugin_name)
        if module is None:
            installed = ", ".join(sorted(plugins)) or "none"
            hint = did_you_mean(plugin_name, plugins)
            problems.append(
                ConfigProblem(
                    f"no source plugin named {plugin_name!r}{hint} (installed: {installed}); "
                    "set `type` to one of them",
                    where,
                    file,
                )
            )
            continue
        model = getattr(module, "Config", None)
        if not (isinstance(model, type) and issubclass(model, SourceSection)):
            problems.append(
                ConfigProblem(f"the source plugin {plugin_name!r} has no Config model", where, file)
            )
            continue
        try:
            sections[name] = model.model_validate({**section, "type": plugin_name})
        except ValidationError as exc:
            problems += problems_from(exc, model, file=file, prefix=("sources", name))
    return sections


def cross_check(config: Config, file: str | None) -> list[ConfigProblem]:
    """Rules across sections: names that must refer to something configured."""
    problems: list[ConfigProblem] = []
    for legacy in ("welink", "email"):
        if getattr(config.notify, legacy) is not None and legacy in config.channels:
            problems.append(
                ConfigProblem(
                    f"notify.{legacy} already defines the channel {legacy!r}: keep one of the two",
                    f"channels.{legacy}",
                    file,
                )
            )
    problems += reference_problems(config, file)
    return problems


def expand_placeholders(text: str, env: Mapping[str, str]) -> str:
    """Replace each `${NAME}` with its environment value; a missing one is MissingSecretError."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if not env.get(name):
            raise MissingSecretError(f"the environment variable {name} is not set")
        return env[name]

    return PLACEHOLDER.sub(value, text)


def database_target(config: Config, env: Mapping[str, str] | None = None) -> str:
    """The database to open: state.url (placeholders expanded), else an absolute SQLite path.

    A relative sqlite_path is relative to the current directory, as in v0; with none, the user
    data directory. The result may hold a password: print `database_display(config)` instead.
    """
    if config.state.url:
        return expand_placeholders(config.state.url, os.environ if env is None else env)
    if config.state.sqlite_path:
        return str(Path(config.state.sqlite_path).expanduser().absolute())
    import platformdirs

    return str(platformdirs.user_data_path(APP) / "mrt.sqlite3")


def database_display(config: Config) -> str:
    """The database target with any password hidden: safe to print."""
    if not config.state.url:
        return database_target(config, {})
    parts = urlsplit(config.state.url)
    if parts.password is not None and not PLACEHOLDER.fullmatch(parts.password):
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return urlunsplit(parts)
