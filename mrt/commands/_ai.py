"""`mrt check`'s lines about AI: on or off, and where it would send what (never a secret); and
in which mode the rules' `about:` conditions run.

Nothing is probed over the network: the line says what the config asks for; the worker's log and
the operators' "AI degraded" notice say whether the endpoint answers. A config that does not
mention `ai` gets no line (AI is off by default, and the rest of the output stays as it was).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mrt.commands._probe import Finding
from mrt.config import Config
from mrt.http import redact_url


def _about_count(node: Any) -> int:
    if isinstance(node, dict):
        return ("about" in node) + sum(_about_count(v) for v in node.values())
    if isinstance(node, list):
        return sum(_about_count(v) for v in node)
    return 0


def probe_about(config: Config) -> list[Finding]:
    """Which mode `about:` conditions run in (mrt.rules.about, mrt.ai_about), and how many."""
    from mrt.errors import ConfigError
    from mrt.rules import compile_rules

    try:
        count = _about_count(compile_rules(config).canonical)
    except ConfigError:
        return []  # the rules line says what is wrong
    if not count:
        return []
    if config.ai.active() and config.ai.embedding_model:
        return [Finding("ok", "rules", f"about: {count} condition(s), embeddings mode (model "
                                       f"{config.ai.embedding_model}; the lexical mode when the "
                                       "endpoint fails)")]
    return [Finding("ok", "rules", f"about: {count} condition(s), lexical mode (word overlap "
                                   "with the topic; no model is asked)")]


def probe_ai(config: Config, env: Mapping[str, str]) -> list[Finding]:
    return probe_about(config) + _probe_endpoint(config)


def _probe_endpoint(config: Config) -> list[Finding]:
    ai = config.ai
    if "ai" not in config.model_fields_set:
        return []
    endpoint = ai.endpoint()
    if not ai.active() or endpoint is None:
        # enabled without an endpoint or a model: the loader's warning already says why
        return [] if ai.enabled else [
            Finding("ok", "ai", "off (ai.enabled is false): nothing is sent to a model")
        ]
    key = (
        f"key from ${ai.api_key_env}" if ai.api_key_env else "no key (ai.api_key_env not set)"
    )
    uses = []
    if ai.summaries:
        uses.append(f"summaries (a message waits at most {ai.summary_wait_seconds} s for one)")
    embeddings = f"embedding model {ai.embedding_model}" if ai.embedding_model else "no embeddings"
    text = (
        f"on: chat model {ai.model} at {redact_url(endpoint)}, {embeddings}; {key}; "
        f"{ai.requests_per_minute} requests a minute, {ai.timeout_seconds:g} s timeout; "
        f"{', '.join(uses) or 'no capability switched on (ai.summaries is false)'}"
    )
    return [Finding("ok", "ai", text)]
