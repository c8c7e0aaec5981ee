"""Logging: one line per meaningful thing, as text or JSON lines, with secrets scrubbed.

Records may carry `source_key`, `fingerprint`, `alert_id`, `outbox_id` (pass them with `extra=`);
both formats show them. Every configured secret's value, and each secret part of a configured
URL, is replaced by `***` before a line is written, whatever logged it (mrt.secrets). Then every
message, context field and traceback is made inert (mrt/inert.py): upstream text in a log line
cannot drive a terminal or forge a second line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from mrt.inert import inert_text
from mrt.secrets import Scrubber

CONTEXT_FIELDS = ("source_key", "fingerprint", "alert_id", "outbox_id", "channel", "target")


class SecretScrubber(logging.Filter):
    """Removes every known secret (and its URL parts) from a record before any line is written.

    It sits on the root handlers, so it sees the lines of every logger that propagates (ours,
    urllib3, httpx, httpcore, apprise, peewee, ...): one filter, not one per logger. The
    message, a formatted exception or stack and the string context fields are scrubbed.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secrets)
        self.scrub = Scrubber(self.secrets)

    def learn(self, secrets: Iterable[str]) -> None:
        """Scrub these too (a reloaded config's); what was known stays known."""
        self.secrets = tuple(dict.fromkeys((*self.secrets, *secrets)))
        self.scrub = Scrubber(self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a library's bad format arguments: still a line
            message = f"{record.msg} {record.args}"
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
            record.exc_info = None  # formatters print exc_text, never the raw exception
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.scrub(value))
        return True


class InertText(logging.Filter):
    """Makes the message (one line), the context fields and the traceback inert and bounded.

    Runs after the secret scrubber: a secret cut by the length bound would escape scrubbing.
    """

    MAX_MESSAGE = 4000
    MAX_FIELD = 500
    MAX_TRACEBACK = 20000

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = inert_text(record.getMessage(), max_chars=self.MAX_MESSAGE)
        record.args = None
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, inert_text(value, max_chars=self.MAX_FIELD))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = inert_text(
                record.exc_text, max_chars=self.MAX_TRACEBACK, multiline=True
            )
        return True


def learn_secrets(secrets: Iterable[str]) -> None:
    """SIGHUP: the secrets of the reloaded config join those every root handler scrubs."""
    values = tuple(secrets)
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, SecretScrubber):
                found.learn(values)


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # made inert by InertText
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        return f"{line} [{' '.join(context)}]" if context else line


def configure_logging(
    fmt: str = "text",
    level: str = "info",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(SecretScrubber(secrets))
    handler.addFilter(InertText())
    # the level on the handler too: a library logger set to DEBUG for a capture of its own
    # (apprise_channel reads an SMTP server's refusal that way) must not reach the log
    handler.setLevel(level.upper())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; query strings may carry tokens
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
