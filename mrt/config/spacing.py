"""A fixed spacing asked for explicitly still spaces; `mrt check` says a budget does it better.

    spacing_warnings(config, file) -> [ConfigWarning, ...]
"""

from __future__ import annotations

from mrt.config.models import Config
from mrt.config.v0 import ConfigWarning

_BETTER = (
    "kept: sends to each target are spaced this far apart as before, and its rate budget is "
    "off. A rate budget (rate = {burst = 10, per_minute = 20} on the channel) lets a burst "
    "out at once within the vendor's limit: remove min_interval_seconds to use one"
)


def spacing_warnings(config: Config, file: str | None) -> list[ConfigWarning]:
    found: list[ConfigWarning] = []
    if "min_interval_seconds" in config.delivery.model_fields_set:
        value = config.delivery.min_interval_seconds
        found.append(ConfigWarning("delivery.min_interval_seconds", f"{value:g}", _BETTER, file))
    for name, channel in config.channels.items():
        if channel.min_interval_seconds is not None and channel.welink_robot is None \
                and channel.smtp is None:
            found.append(ConfigWarning(
                f"channels.{name}.min_interval_seconds", f"{channel.min_interval_seconds:g}",
                _BETTER, file,
            ))
    return found
