"""Text matching that upstream text cannot stall: RE2 programs, globs, whole-word search."""

from __future__ import annotations

from typing import Any

import re2


def re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # our ConfigError says it better than RE2's stderr line
    return options


def over_bytes(program: Any) -> Any:
    """The same RE2 program (pattern and options) over UTF-8 bytes: a search then skips the
    binding's encoding of the text and its mapping of byte offsets back to characters."""
    return re2.compile(program.pattern.encode("utf-8"), program.options)


def glob_to_re2(pattern: str) -> str:
    """`*` any run of characters, `?` one character, everything else literal.

    Unlike fnmatch, `[` is literal, so `*[bot]` blocks `dependabot[bot]` as one would expect.
    """
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "*" else "." if ch == "?" else re2.escape(ch))
    return "".join(parts)


class GlobSet:
    """Globs matched against lower-cased values (any case).

    The usual shapes (`exact`, `prefix*`, `*suffix`, `*part*`) are plain string tests; only
    the rest go through one RE2 program. Values come from upstream, so no backtracking engine.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        suffixes: list[str] = []
        parts: list[str] = []
        general: list[str] = []
        for pattern in (p.lower() for p in patterns):
            inner = pattern.strip("*")
            if "?" in pattern or "*" in inner:
                general.append(pattern)
            elif pattern.startswith("*") and pattern.endswith("*") and len(pattern) > 1:
                parts.append(inner)
            elif pattern.startswith("*"):
                suffixes.append(inner)
            elif pattern.endswith("*"):
                prefixes.append(inner)
            else:
                exact.add(pattern)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.parts = tuple(parts)
        alternatives = "|".join(f"(?:{glob_to_re2(p)})" for p in general)
        self.general = re2.compile("(?s)" + alternatives, re2_options()) if general else None

    def matches(self, value: str) -> bool:
        """`value` must already be lower-cased."""
        return (
            value in self.exact
            or (bool(self.prefixes) and value.startswith(self.prefixes))
            or (bool(self.suffixes) and value.endswith(self.suffixes))
            or any(part in value for part in self.parts)
            or (self.general is not None and self.general.fullmatch(value) is not None)
        )


def compile_globs(patterns: tuple[str, ...]) -> GlobSet:
    return GlobSet(patterns)


def is_word_char(ch: str) -> bool:
    # CJK scripts (U+2E80 on) write words without spaces: no character there is "inside a
    # word", so a word-bounded Chinese keyword behaves as a plain substring.
    return ch == "_" or (ch.isalnum() and ord(ch) < 0x2E80)


# The same notion of "not a word character" as is_word_char, in RE2 syntax.
_NOT_WORD = r"(?:[^\pL\pN_]|[\x{2E80}-\x{10FFFF}])"


def compile_word_search(terms: tuple[str, ...]) -> Any:
    """One RE2 program finding any of `terms` as a whole word (terms and text lower-cased).

    Letters, digits and `_` of any alphabet are word characters (`é` is one, unlike for RE2's
    ASCII `\\b`); CJK characters never are. A boundary is only required on a side where the
    term itself starts or ends with a word character (`c++` may be followed by anything).
    RE2 has no lookaround, so the boundary character is consumed: fine for "is it there?".
    """
    alternatives = []
    for term in terms:
        left = f"(?:^|{_NOT_WORD})" if is_word_char(term[0]) else ""
        right = f"(?:{_NOT_WORD}|$)" if is_word_char(term[-1]) else ""
        alternatives.append(f"(?:{left}{re2.escape(term)}{right})")
    return re2.compile("(?s)" + "|".join(alternatives), re2_options())
