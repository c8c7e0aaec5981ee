"""Text hygiene: upstream text is data, and every channel has a length limit.

Upstream fields (titles, bodies, author names, labels, URLs) pass through here before they
reach a template context, so that they can never:
- mention anyone (`@all`, `@所有人`, `@someone`): every `@` becomes a full-width `＠`, which
  reads the same to a person and matches no robot's mention syntax;
- carry terminal escapes or control characters (ANSI sequences, NUL, bidi overrides);
- become template source (they are only ever variable values; see render.py).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

ELLIPSIS = "…"

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Bidi embeddings/overrides/isolates: they can make text read differently than it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_URL_LINE = re.compile(r"^\s*https?://\S+\s*$")


def _strip_controls(text: str, keep_newlines: bool) -> str:
    text = _ANSI.sub("", text).translate(_BIDI)
    kept = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            kept.append(ch)
        elif ch in "\t\r\n":
            kept.append(" ")
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            kept.append(ch)
    return "".join(kept)


def neutralise_mentions(text: str) -> str:
    """`@all` -> `＠all`: no robot reads a full-width at sign as a mention."""
    return text.replace("@", "\uff20")


def clean_line(value: object, *, max_chars: int = 300) -> str:
    """One line of upstream text (a title, a name): no controls, no mentions, bounded."""
    text = _strip_controls(str(value or ""), keep_newlines=False)
    text = re.sub(r" {2,}", " ", text).strip()
    return neutralise_mentions(fit_text(text, max_chars, keep_link=False))


def clean_text(value: object, *, max_chars: int = 2000) -> str:
    """A multi-line upstream body: newlines kept (at most one blank line), the rest as clean_line."""
    text = _strip_controls(str(value or ""), keep_newlines=True)
    text = "\n".join(re.sub(r"[ \t]{2,}", " ", line).rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return neutralise_mentions(fit_text(text, max_chars, keep_link=False))


def clean_url(value: object) -> str:
    """An upstream link: http(s) only, no whitespace or controls, `@` percent-encoded."""
    text = _strip_controls(str(value or ""), keep_newlines=False).strip()
    if not text or urlsplit(text).scheme.lower() not in {"http", "https"} or " " in text:
        return ""
    return text.replace("@", "%40")


def fit_text(text: str, limit: int, *, keep_link: bool = True) -> str:
    """Trim `text` to `limit` characters with a visible ellipsis.

    When the last line is a link (as the default templates put it), the link is kept whole
    and the text before it is shortened instead: the reader can always open the item.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if len(text) <= limit:
        return text
    head, sep, last = text.rstrip().rpartition("\n")
    if keep_link and sep and _URL_LINE.match(last) and len(last) + 2 < limit:
        room = limit - len(last) - 1  # the newline before the link
        return head[: room - 1].rstrip() + ELLIPSIS + "\n" + last
    return text[: limit - 1].rstrip() + ELLIPSIS
