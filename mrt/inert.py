"""Inert text: what upstream or an error says, made safe to show on a terminal or write to a log.

An issue title, an HTTP error body or an SMTP reply is data. Written raw to a terminal it can
recolour or clear the screen, retitle the window, plant a hyperlink (OSC 8), hide text behind a
bidi override, or forge a log line with a newline. Every string that came from outside and is
shown on a terminal (the CLI, the console) or written to a log goes through `inert_text`; the
robot text of every channel (mrt/delivery/sanitize.py) strips controls with the same
`strip_controls`, so there is one implementation of it.

What `strip_controls` does:
- ESC sequences go whole: CSI (`ESC [` and 8-bit U+009B), OSC (`ESC ]`, U+009D, OSC 8 links
  included) and DCS/SOS/PM/APC strings up to their terminator, and two-character escapes;
- C0 and C1 controls and DEL go; tab, CR, VT and FF become a space, and so do the line breaks
  other than `\\n` (U+0085, U+2028, U+2029); `\\n` is kept only when asked;
- bidi embeddings, overrides, isolates and marks go, and so do zero-width characters
  (a zero-width joiner inside an emoji sequence stays: it draws one glyph of two);
- a lone surrogate or a noncharacter becomes U+FFFD (a lone surrogate cannot be encoded to
  UTF-8: printing one raises).

`terminal_json` writes JSON for a terminal: the same characters are escaped (`\\u202e`), not
dropped, so a script reading `--json` gets every character back.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

ELLIPSIS = "…"

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]"  # two-character escapes, charset designations
)
_SPACE_LIKE = "\t\r\x0b\x0c\x85\u2028\u2029"
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ZERO_WIDTH = "\u180e\u200b\u200c\u2060\u2061\u2062\u2063\u2064\ufeff"
_ZWJ = "\u200d"
_NONCHARACTERS = [*range(0xFDD0, 0xFDF0)] + [
    plane + low for plane in range(0, 0x110000, 0x10000) for low in (0xFFFE, 0xFFFF)
]


def _table(keep_newlines: bool) -> dict[int, str | None]:
    table: dict[int, str | None] = {c: None for c in (*range(0x20), *range(0x7F, 0xA0))}
    table.update({ord(c): " " for c in _SPACE_LIKE})
    table.update({ord(c): None for c in _BIDI + _ZERO_WIDTH})
    table.update({c: "\ufffd" for c in (*range(0xD800, 0xE000), *_NONCHARACTERS)})
    table[ord("\n")] = "\n" if keep_newlines else " "
    return table


_ONE_LINE = _table(keep_newlines=False)
_MULTI_LINE = _table(keep_newlines=True)


def _emoji_side(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Mn", "Me")


def _drop_stray_joiners(text: str) -> str:
    """A zero-width joiner stays only between emoji (a family, a flag); elsewhere it hides."""
    last = len(text) - 1
    return "".join(
        ch
        for i, ch in enumerate(text)
        if ch != _ZWJ or (0 < i < last and _emoji_side(text[i - 1]) and _emoji_side(text[i + 1]))
    )


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every escape sequence, control, bidi and zero-width character removed."""
    # Printable text (no control, format, separator, surrogate, private-use or unassigned
    # character) holds nothing removed here: every escape starts with a control, every entry
    # of the tables is one of those (tests/test_inert.py checks each code point). Most
    # upstream text is printable, and `isprintable` is one scan in C.
    if text.isprintable() or (keep_newlines and text.replace("\n", "").isprintable()):
        return text
    return _strip(text, keep_newlines)


def _strip(text: str, keep_newlines: bool) -> str:
    text = _ESCAPES.sub("", text).translate(_MULTI_LINE if keep_newlines else _ONE_LINE)
    return _drop_stray_joiners(text) if _ZWJ in text else text


def bound(text: str, max_chars: int) -> str:
    """At most `max_chars` characters; a cut shows as a trailing ellipsis."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    return text if len(text) <= max_chars else text[: max_chars - 1] + ELLIPSIS


def inert_text(value: object, *, max_chars: int = 500, multiline: bool = False) -> str:
    """`value` as text that cannot act on a terminal or a log: controls stripped, length bounded.

    One line unless `multiline` (then `\\n` is kept and runs of blank lines shrink to one).
    """
    text = "" if value is None else str(value)
    # Stripping only shortens: a huge value (a 1 MB title) is cut first, for speed.
    text = strip_controls(text[: max_chars * 4 + 64], keep_newlines=multiline)
    if multiline:
        text = re.sub(r"\n{3,}", "\n\n", text)
    return bound(text, max_chars)


_JSON_ESCAPES = {
    code: f"\\u{code:04x}"
    for code in (
        *range(0x7F, 0xA0),
        *(ord(c) for c in _BIDI + _ZERO_WIDTH + _ZWJ + "\u2028\u2029"),
        *range(0xD800, 0xE000),
        *(c for c in _NONCHARACTERS if c <= 0xFFFF),
    )
}


def terminal_json(data: Any, **dumps: Any) -> str:
    """`json.dumps(data, ensure_ascii=False)` with every character a terminal would act on
    escaped: lossless for a script, inert on a screen (JSON already escapes C0 controls)."""
    return json.dumps(data, ensure_ascii=False, **dumps).translate(_JSON_ESCAPES)
