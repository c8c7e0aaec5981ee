"""Text matching that upstream text cannot stall: RE2 programs, globs, whole-word search."""

from __future__ import annotations

from typing import Any

import re2


def re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # our ConfigError says it better than RE2's stderr line
    return options


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


def _is_word_char(ch: str) -> bool:
    # CJK scripts (U+2E80 on) write words without spaces: no character there is "inside a
    # word", so a word-bounded Chinese keyword behaves as a plain substring.
    return ch == "_" or (ch.isalnum() and ord(ch) < 0x2E80)


def find_term(haystack: str, term: str, *, word: bool) -> bool:
    """`term` (lower-cased) in `haystack` (lower-cased); `word`: not inside a longer word.

    Word characters are letters, digits and `_` of any alphabet (`é` is one, unlike for
    RE2's ASCII `\\b`); CJK characters never are, since those scripts have no spaces.
    """
    if not word:
        return term in haystack
    need_left = _is_word_char(term[0])
    need_right = _is_word_char(term[-1])
    start = haystack.find(term)
    while start != -1:
        end = start + len(term)
        left_ok = not need_left or start == 0 or not _is_word_char(haystack[start - 1])
        right_ok = not need_right or end == len(haystack) or not _is_word_char(haystack[end])
        if left_ok and right_ok:
            return True
        start = haystack.find(term, start + 1)
    return False
