"""Why Apprise says a send failed, beyond its WARNING line: the plugin's own exception.

Apprise's email plugin logs "Sending email to ... failed" at WARNING and the server's answer
(`(550, b'5.1.1 <x@y>: Recipient address rejected')`) only at DEBUG, as "Socket Exception: ...",
on its module logger `apprise`. An attempt's reason must say what the server said, so sends
enable that logger for DEBUG and ask Apprise's per-call capture for DEBUG lines. The log itself
stays at its configured level: `configure_logging` puts the level on the root handlers (a
record below it is dropped there, before any formatting), and without it Python's last-resort
handler shows WARNING and above only.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

from apprise import NotifyLogEntry

MAX_DETAIL = 300

_EXCEPTION = re.compile(r"^Socket Exception:\s*(?P<detail>.+)$", re.DOTALL)
# smtplib's (code, b'text') answers, inside SMTPRecipientsRefused' dict or alone
_SMTP_REPLY = re.compile(r"\((?P<code>[2-5]\d\d), b?(?P<q>['\"])(?P<text>.*?)(?P=q)")


def enable_detail() -> int:
    """Let Apprise's DEBUG lines be made (for its capture); the level to capture at."""
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    return logging.DEBUG


def failure_detail(entries: Iterable[NotifyLogEntry]) -> str | None:
    """What an SMTP server answered (code and text), from an attempt's captured lines."""
    for entry in entries:
        match = _EXCEPTION.match(entry.message.strip())
        if not match:
            continue
        detail = match["detail"]
        replies = _SMTP_REPLY.findall(detail)
        if replies:
            text = "; ".join(f"{c} {_unescape(t)}" for c, _, t in dict.fromkeys(replies))
            return f"SMTP {_printable(text)}"
        # Other exceptions (an HTTP plugin's socket error) quote the request URL, path and all:
        # the plugin's WARNING line says enough there, without a URL.
    return None


def _unescape(text: str) -> str:
    # the server's bytes as smtplib's repr shows them: b'5.1.1 \xe2\x80\x94 ...'
    try:
        return (
            text.encode("latin-1", "backslashreplace")
            .decode("unicode_escape")
            .encode("latin-1")
            .decode("utf-8", "replace")
        )
    except (UnicodeDecodeError, UnicodeEncodeError):
        return text


def _printable(text: str) -> str:
    """One line, no control or format characters (the text comes from a remote server)."""
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text
    )
    cleaned = re.sub(r" {2,}", " ", cleaned).strip()
    return cleaned if len(cleaned) <= MAX_DETAIL else cleaned[: MAX_DETAIL - 1] + "…"
