"""Names that must refer to something configured: every channel and digest a config names.

A rule, a digest or `observability.ops_channels` naming a channel that does not exist would
create alerts that go nowhere, so it is a config error wherever the config is loaded (`mrt
check`, the worker and its SIGHUP reload, the console), with the field's path, what was found,
the names that exist and a "did you mean". v0's `notify.welink` / `notify.email` sections are
the channels "welink" and "email".

Rules are compiled (and their shapes checked) by mrt.rules; this module only reads the few
places a rule names a channel or a digest, and leaves a value of the wrong shape to the rules'
own error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mrt.config.errors import ConfigProblem, did_you_mean, show_value
from mrt.config.models import Config


def reference_problems(config: Config, file: str | None) -> list[ConfigProblem]:
    """Every channel or digest named somewhere that the config does not define."""
    channels = config.channel_names()
    problems = [
        _unknown("channel", name, where, channels, file)
        for where, name in channel_references(config)
        if name not in channels
    ]
    digests = tuple(config.digests)
    problems += [
        _unknown("digest", name, where, digests, file)
        for where, name in digest_references(config)
        if name not in digests
    ]
    return problems


def channel_references(config: Config) -> Iterator[tuple[str, str]]:
    """(field path, channel name) for every place the config names a channel."""
    for index, rule in enumerate(config.rules):
        notify = (rule.model_extra or {}).get("notify")
        if isinstance(notify, list):  # `notify: [a, b]`: the channels list itself
            yield from _names(notify, f"rules[{index}].notify")
        elif isinstance(notify, dict) and isinstance(notify.get("channels"), list):
            yield from _names(notify["channels"], f"rules[{index}].notify.channels")
    for name, digest in config.digests.items():
        yield from _names(digest.channels, f"digests.{name}.channels")
    yield from _names(config.observability.ops_channels, "observability.ops_channels")


def digest_references(config: Config) -> Iterator[tuple[str, str]]:
    """(field path, digest name) for every rule that sends to a digest."""
    for index, rule in enumerate(config.rules):
        digest = (rule.model_extra or {}).get("digest")
        if isinstance(digest, str):
            yield f"rules[{index}].digest", digest
        elif isinstance(digest, dict) and isinstance(digest.get("name"), str):
            yield f"rules[{index}].digest.name", digest["name"]


def _names(values: Sequence[Any], where: str) -> Iterator[tuple[str, str]]:
    for position, value in enumerate(values):
        if isinstance(value, str):
            yield f"{where}[{position}]", value


def _unknown(
    kind: str, name: str, where: str, known: Sequence[str], file: str | None
) -> ConfigProblem:
    found = show_value(name, ())
    defined = ", ".join(repr(k) for k in known) or "none"
    return ConfigProblem(
        f"no {kind} named {found}{did_you_mean(name, known)} (the {kind}s configured: {defined})",
        where,
        file,
    )
