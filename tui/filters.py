"""The `/` filter line: `key:value` words become SQL conditions, the other words are text.

deepseek source:github prio:high rule:models status:dead ack:no
status:none lists the alerts that went to no one (no delivery at all); ack:yes / ack:no the
acknowledged / not yet acknowledged ones. On deliveries, alert:ID lists one alert's.
"""

from __future__ import annotations

import shlex

from mrt.store.views import OUTBOX_STATUS_ORDER, AlertFilter, OutboxFilter

PRIORITIES = ("low", "normal", "high", "critical")
ALERT_KEYS = {
    "source": "source",
    "rule": "rule",
    "priority": "priority",
    "prio": "priority",
    "status": "delivery_status",
    "delivery": "delivery_status",
    "ack": "acknowledged",
    "acked": "acknowledged",
}
OUTBOX_KEYS = {"status": "status", "source": "source", "channel": "channel", "alert": "alert"}
YES_NO = {"yes": "yes", "y": "yes", "true": "yes", "no": "no", "n": "no", "false": "no"}


class FilterSyntaxError(ValueError):
    """The filter line has a word we cannot turn into a condition; the message says which."""


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise FilterSyntaxError(f"unbalanced quotes in {text!r}") from exc


def _parse(text: str, keys: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    words: list[str] = []
    for word in _split(text):
        key, sep, value = word.partition(":")
        if sep and key.lower() in keys and value:
            values[keys[key.lower()]] = value
        elif sep and key.isalpha() and key.lower() not in keys and not value.startswith("//"):
            known = ", ".join(sorted({f"{k}:" for k in keys}))
            raise FilterSyntaxError(f"unknown filter {key}: (known: {known})")
        else:
            words.append(word)
    if words:
        values["text"] = " ".join(words)
    return values


def parse_alert_filter(text: str) -> AlertFilter:
    values = _parse(text, ALERT_KEYS)
    if values.get("priority", "low") not in PRIORITIES:
        raise FilterSyntaxError(
            f"priority {values['priority']!r} is not one of {', '.join(PRIORITIES)}"
        )
    if values.get("delivery_status") != "none":
        _check_status(values.get("delivery_status"))
    if "acknowledged" in values:
        answer = YES_NO.get(values["acknowledged"].lower())
        if answer is None:
            raise FilterSyntaxError(f"ack:{values['acknowledged']} is not ack:yes or ack:no")
        values["acknowledged"] = answer
    return AlertFilter(**values)


def parse_outbox_filter(text: str) -> OutboxFilter:
    values = _parse(text, OUTBOX_KEYS)
    _check_status(values.get("status"))
    alert = values.get("alert", "").lstrip("#")
    if "alert" in values and not alert.isdigit():
        raise FilterSyntaxError(f"alert:{values['alert']} is not an alert id (alert:12)")
    if alert:
        values["alert"] = alert
    return OutboxFilter(**values)


def _check_status(status: str | None) -> None:
    if status is not None and status not in OUTBOX_STATUS_ORDER:
        raise FilterSyntaxError(f"status {status!r} is not one of {', '.join(OUTBOX_STATUS_ORDER)}")


def describe(flt: AlertFilter | OutboxFilter) -> str:
    """The filter written back as the operator would type it."""
    parts: list[str] = []
    for name, value in (
        ("source", flt.source),
        ("rule", getattr(flt, "rule", "")),
        ("priority", getattr(flt, "priority", "")),
        ("channel", getattr(flt, "channel", "")),
        ("status", getattr(flt, "delivery_status", "") or getattr(flt, "status", "")),
        ("ack", getattr(flt, "acknowledged", "")),
        ("alert", getattr(flt, "alert", "")),
    ):
        if value:
            parts.append(f"{name}:{shlex.quote(value)}")
    if flt.text:
        parts.insert(0, shlex.quote(flt.text) if " " in flt.text else flt.text)
    return " ".join(parts)
