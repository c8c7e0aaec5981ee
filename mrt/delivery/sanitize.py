"""Text hygiene: upstream text is data, and every channel has a length limit.

Upstream fields (titles, bodies, author names, labels, URLs) pass through here before they
reach a template context, so that they can never:
- mention anyone (`@all`, `@所有人`, `@someone`): every `@` becomes a full-width `＠`, which
  reads the same to a person and matches no robot's mention syntax; the tag forms (Slack's
  `<!channel>` and `<@U123>`, Feishu's `<at user_id="all">`, WeCom's `<@all>`) lose their `<`
  (full-width `＜`), and a Slack `!channel>` its `!` (Apprise turns even that into a mention);
- carry terminal escapes or control characters (ANSI sequences, NUL, bidi overrides), line or
  paragraph separators, or zero-width characters (mrt/inert.py strips them: the same function
  that makes text safe for a terminal or a log);
- become template source (they are only ever variable values; see render.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mrt.inert import ELLIPSIS, strip_controls

_URL_LINE = re.compile(r"^\s*https?://\S+\s*$")
_MENTION_TAG = re.compile(r"<(?=\s*(?:[!@#]|at\b))", re.IGNORECASE)
_SLACK_BANG = re.compile(r"!(?=[^|\s<>!]+[ \t]*(?:\|[^\n>]*)?(?:>|&gt;))")
_SPACES = re.compile(r" {2,}")
_BLANKS_TABS = re.compile(r"[ \t]{2,}")
_BLANK_LINES = re.compile(r"\n{3,}")


def neutralise_mentions(text: str) -> str:
    """`@all` -> `＠all`, `<!here>` -> `＜！here>`: no robot reads full-width signs as a mention."""
    # each pattern starts with its sign: text without the sign has nothing for it to change
    if "<" in text:
        text = _MENTION_TAG.sub("\uff1c", text)
    if "!" in text:
        text = _SLACK_BANG.sub("\uff01", text)
    return text.replace("@", "\uff20")


def clean_line(value: object, *, max_chars: int = 300) -> str:
    """One line of upstream text (a title, a name): no controls, no mentions, bounded."""
    if (
        type(value) is str
        and value.isprintable()
        and "  " not in value
        and "@" not in value
        and "<" not in value
        and "!" not in value
        and 0 < len(value) <= max_chars
    ):  # nothing to remove, replace or cut: what the steps below would leave (most text)
        return value.strip()
    text = strip_controls(value if type(value) is str else str(value or ""), keep_newlines=False)
    if "  " in text:
        text = _SPACES.sub(" ", text)
    return neutralise_mentions(fit_text(text.strip(), max_chars, keep_link=False))


def clean_text(value: object, *, max_chars: int = 2000) -> str:
    """A multi-line upstream body: newlines kept (at most one blank line), the rest as clean_line."""
    text = strip_controls(value if type(value) is str else str(value or ""), keep_newlines=True)
    if "\n" in text:
        text = "\n".join(_BLANKS_TABS.sub(" ", line).rstrip() for line in text.split("\n"))
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    elif "  " in text or "\t" in text:  # one line: the same as the loop above, without it
        text = _BLANKS_TABS.sub(" ", text)
    return neutralise_mentions(fit_text(text.strip(), max_chars, keep_link=False))


def clean_url(value: object) -> str:
    """An upstream link: http(s) only, no whitespace or controls, `@` percent-encoded."""
    if (
        type(value) is str
        and value.startswith(("https://", "http://"))
        and value.isascii()
        and value.isprintable()
        and " " not in value
        and "[" not in value
        and "]" not in value
    ):  # what the steps below leave of a plain link (brackets: urlsplit may refuse them)
        return value.replace("@", "%40")
    text = strip_controls(str(value or ""), keep_newlines=False).strip()
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
