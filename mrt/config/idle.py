"""Keys this MRT accepts but does not act on yet, each said once as a ConfigWarning.

A file written for a release that has them keeps loading (the promise to v1 files), but a
setting that silently does nothing is a lie: `mrt check` prints these and the worker logs them.
docs/CONFIG.md ("Keys accepted but not acted on yet") says the same to a reader.

    idle_warnings(config, file) -> [ConfigWarning, ...]
"""

from __future__ import annotations

from mrt.config.models import Config
from mrt.config.v0 import ConfigWarning


def idle_warnings(config: Config, file: str | None) -> list[ConfigWarning]:
    """One warning per key that asks for something this MRT does not do yet."""
    found: list[ConfigWarning] = []
    if config.ai.enabled:
        found.append(ConfigWarning(
            "ai.enabled",
            "true",
            "accepted but not acted on yet: this MRT has no AI enhancements, and nothing is "
            "sent to a model (ai.provider, ai.model and ai.api_key_env are kept for a later "
            "release)",
            file,
        ))
    return found
