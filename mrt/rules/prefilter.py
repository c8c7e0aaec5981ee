"""What text a regular expression needs before RE2 is worth asking: its required literals.

    required_literals(pattern, ignore_case) -> Literals | None

Most rule patterns name words (`(?i)(deepseek|qwen)[-_ ]?v?\\d+`): any match contains one of
a few literal strings. Testing those with `in` costs a fraction of an RE2 search through its
Python binding, and settles most events (no literal, no match); only when one is there does
RE2 decide. The answer never changes: a literal is taken only where every match must contain
it, and anything this reader does not fully understand (character classes, escapes other than
punctuation, inline flags after the start, `\\Q...\\E`, odd braces) yields None: always search.

Case-insensitive patterns (the `ignore_case` option or a leading `(?i)`) keep only ASCII
literal characters, lower-cased; the text is compared in `fold` form: lower-cased, and `ſ`
(U+017F, which RE2 folds to `s`) made an `s`. `K` (U+212A, folded to `k`) lowers to `k` on its
own. tests/test_rules_prefilter.py checks every code point RE2 folds to an ASCII character.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_FLAGS = re.compile(r"\(\?([imsU]+)\)")
_QUANTIFIER = re.compile(r"\{(\d+)(,\d*)?\}")
_ZERO_WIDTH_OR_CLASS = frozenset("bBAzdDwWsSC")
_FirstLiterals = frozenset[str] | None


class Literals(NamedTuple):
    strings: tuple[str, ...]  # every match contains one of these
    folded: bool  # compare them with fold(text) (the match ignores case), else with the text


class _GiveUp(Exception):
    """A construct this reader does not model: no prefilter for the pattern."""


def fold(text: str) -> str:
    """`text` as case-insensitive literals are compared with it."""
    return fold_lowered(text.lower())


def fold_lowered(lowered: str) -> str:
    """fold() of text already lower-cased."""
    return lowered.replace("\u017f", "s") if "\u017f" in lowered else lowered


def required_literals(pattern: str, ignore_case: bool) -> Literals | None:
    """Strings one of which every match of `pattern` contains (lower-cased when the match
    ignores case), or None when that cannot be said."""
    start = 0
    flags = _FLAGS.match(pattern)
    if flags:
        ignore_case = ignore_case or "i" in flags.group(1)
        start = flags.end()
    try:
        parser = _Parser(pattern, start, ignore_case)
        found = parser.alternation()
        if parser.pos != len(pattern):
            raise _GiveUp
    except (_GiveUp, IndexError):
        return None
    if not found or "" in found:
        return None
    return Literals(tuple(sorted(found)), ignore_case)


def _better(a: frozenset[str], b: _FirstLiterals) -> bool:
    """`a` narrows more than `b`: its shortest literal is longer (then: fewer of them)."""
    if b is None:
        return True
    return (min(map(len, a)), -len(a)) > (min(map(len, b)), -len(b))


class _Parser:
    def __init__(self, pattern: str, start: int, ignore_case: bool) -> None:
        self.text = pattern
        self.pos = start
        self.ignore_case = ignore_case

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternation(self) -> _FirstLiterals:
        branches = [self.concatenation()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concatenation())
        if any(b is None for b in branches):
            return None
        return frozenset().union(*(b for b in branches if b is not None))

    def concatenation(self) -> _FirstLiterals:
        best: _FirstLiterals = None
        run = ""
        while self.peek() not in ("", "|", ")"):
            literal, required = self.atom()
            quantified = self.quantifier()
            if literal is not None and quantified is None:
                run += literal
                continue
            if run and _better(frozenset((run,)), best):
                best = frozenset((run,))
            run = ""
            if quantified == "optional":
                continue
            if literal is not None:
                required = frozenset((literal,))
            if required is not None and _better(required, best):
                best = required
        if run and _better(frozenset((run,)), best):
            best = frozenset((run,))
        return best

    def quantifier(self) -> str | None:
        """None (no quantifier), "optional" (may match zero times) or "repeated" (at least
        once)."""
        ch = self.peek()
        if ch in ("*", "?", "+"):
            self.pos += 1
            kind = "repeated" if ch == "+" else "optional"
        elif ch == "{":
            found = _QUANTIFIER.match(self.text, self.pos)
            if found is None:
                raise _GiveUp  # RE2 reads a brace that is no repetition as a literal: rare
            self.pos = found.end()
            kind = "repeated" if int(found.group(1)) > 0 else "optional"
        else:
            return None
        if self.peek() == "?":  # lazy
            self.pos += 1
        if self.peek() in ("*", "?", "+", "{"):
            raise _GiveUp
        return kind

    def atom(self) -> tuple[str | None, _FirstLiterals]:
        """(the literal character, or None; what the atom requires when it is no literal)."""
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "(":
            return None, self.group()
        if ch == "[":
            self.skip_class()
            return None, None
        if ch in ".^$":
            return None, None
        if ch in "*+?{":
            raise _GiveUp
        if ch == "\\":
            return self.escape()
        return self.literal(ch)

    def literal(self, ch: str) -> tuple[str | None, _FirstLiterals]:
        if not self.ignore_case:
            return ch, None
        if ch.isascii():
            return ch.lower(), None
        return None, None  # a non-ASCII letter's case partners are not modelled here

    def escape(self) -> tuple[str | None, _FirstLiterals]:
        ch = self.text[self.pos]
        self.pos += 1
        if ch.isascii() and not ch.isalnum() and ch != "_":
            return self.literal(ch)  # an escaped punctuation character stands for itself
        if ch in _ZERO_WIDTH_OR_CLASS:
            return None, None
        if ch in "pP":
            if self.peek() == "{":
                self.pos = self.text.index("}", self.pos) + 1
            else:
                self.pos += 1
            return None, None
        raise _GiveUp  # \Q...\E, \x, \n, octal, anything else: search every time

    def group(self) -> _FirstLiterals:
        if self.peek() == "?":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.text.startswith(("?P<", "?<"), self.pos):
                self.pos = self.text.index(">", self.pos) + 1
            else:
                raise _GiveUp  # inline flags after the start
        inner = self.alternation()
        if self.peek() != ")":
            raise _GiveUp
        self.pos += 1
        return inner

    def skip_class(self) -> None:
        if self.peek() == "^":
            self.pos += 1
        if self.peek() == "]":
            self.pos += 1
        while True:
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "]":
                return
            if ch == "[":
                raise _GiveUp  # [[:alpha:]] and friends
            if ch == "\\":
                if self.text[self.pos] in "pPx" and self.text[self.pos + 1] == "{":
                    self.pos = self.text.index("}", self.pos) + 1
                else:
                    self.pos += 1
