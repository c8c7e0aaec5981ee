"""Keys this MRT accepts but does not act on yet, each said once as a ConfigWarning.

A file written for a release that has them keeps loading (the promise to v1 files), but a
setting that silently does nothing is a lie: `mrt check` prints these and the worker logs them.
docs/CONFIG.md ("Keys accepted but not acted on yet") says the same to a reader.

    idle_warnings(config, file) -> [ConfigWarning, ...]
"""

from __future__ import annotations

from mrt.config.errors import show_value
from mrt.config.models import Config
from mrt.config.v0 import ConfigWarning


def _has_about(config: Config) -> bool:
    def walk(node: object) -> bool:
        if isinstance(node, dict):
            return "about" in node or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return any(walk((rule.model_extra or {}).get("when")) for rule in config.rules)


def idle_warnings(config: Config, file: str | None) -> list[ConfigWarning]:
    """One warning per key that asks for something this MRT does not do yet."""
    found: list[ConfigWarning] = []
    ai = config.ai
    if ai.active() and ai.embedding_model and not _has_about(config):
        found.append(ConfigWarning(
            "ai.embedding_model",
            show_value(ai.embedding_model, ("ai", "embedding_model")),
            "accepted but not acted on: only `about:` rule conditions use embeddings, and no "
            "rule has one (docs/AI.md)",
            file,
        ))
    if ai.enabled and not ai.active():
        lacking = " and ".join(
            what
            for what, missing in (("ai.base_url", ai.endpoint() is None), ("ai.model", not ai.model))
            if missing
        )
        found.append(ConfigWarning(
            "ai.enabled",
            "true",
            f"but no {lacking}: the AI enhancements stay off and nothing is sent to a model "
            "(docs/AI.md)",
            file,
        ))
    return found
