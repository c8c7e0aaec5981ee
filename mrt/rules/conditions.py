"""Compiled conditions: a fast `test`, a `score` for "nearest miss", and human explanations.

Every condition answers three questions about one EventView:
    test(view)    -> bool                      the hot path: short-circuits, allocates little
    score(view)   -> float in [0, 1]           how close it came (1 = matched)
    explain(view) -> Outcome(matched, reasons, misses)
explain() is only called for the rules that matched (their reasons) and for the one rule that
came closest when nothing matched (its misses), so the cost of words is not paid per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mrt.rules.fields import EventView, JoinedKey
from mrt.rules.patterns import GlobSet, compile_globs, compile_word_search, over_bytes
from mrt.rules.prefilter import required_literals


@dataclass(frozen=True, slots=True)
class Outcome:
    matched: bool
    reasons: tuple[str, ...] = ()  # why it matched
    misses: tuple[str, ...] = ()  # why it did not


class Condition(Protocol):
    cost: int  # rough price of test(): cheap checks run first inside all/any

    def test(self, view: EventView) -> bool: ...
    def score(self, view: EventView) -> float: ...
    def explain(self, view: EventView) -> Outcome: ...
    def canonical(self) -> Any: ...


def _quote_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Leaf:
    cost = 2
    """A condition without children: its score is all or nothing.

    Results are memoised per event (`view.memo`), so the "nearest miss" pass after the main
    pass only computes the leaves the main pass short-circuited past.
    """

    def check(self, view: EventView) -> bool:
        raise NotImplementedError

    def test(self, view: EventView) -> bool:
        memo = view.memo
        result = memo.get(self)
        if result is None:
            result = memo[self] = self.check(view)
        return result

    def score(self, view: EventView) -> float:
        result = view.memo.get(self)  # the nearest-miss pass: most leaves ran already
        if result is None:
            result = self.test(view)
        return 1.0 if result else 0.0


class KeywordsCondition(Leaf):
    """v0's keyword match: case-insensitive substring of any term in any of the fields."""

    cost = 2

    def __init__(self, terms: tuple[str, ...], fields: tuple[str, ...], word: bool) -> None:
        self.terms = terms
        self.lowered = tuple(t.lower() for t in terms)
        self.fields = fields
        self.word = word
        # Whole words through RE2 (linear): a Python find-loop would crawl through a hostile
        # body made of a million short near-misses.
        self.word_any = compile_word_search(self.lowered) if word else None
        self.word_each = tuple(compile_word_search((t,)) for t in self.lowered) if word else ()
        # the same programs over the lower-cased text's UTF-8 (see RegexCondition.binary):
        # only whether they match is asked, and that is the same over bytes
        self.any_binary = None if self.word_any is None else over_bytes(self.word_any)
        self.each_binary = tuple(over_bytes(p) for p in self.word_each)
        self.joined = JoinedKey(fields, "lower")

    def check(self, view: EventView) -> bool:
        everywhere = view.joined(self.joined)
        for term in self.lowered:
            if term in everywhere:
                break
        else:
            return False  # no term in any field (most events): no boundary to judge
        for name in self.fields:
            haystack = view.lower(name)
            # The substring test is cheap and settles most events; RE2 only judges boundaries.
            if any(term in haystack for term in self.lowered) and (
                self.any_binary is None
                or self.any_binary.search(view.lower_encoded(name)) is not None
            ):
                return True
        return False

    def _found(self, view: EventView, name: str, index: int) -> bool:
        if self.lowered[index] not in view.lower(name):
            return False
        return not self.word or self.each_binary[index].search(view.lower_encoded(name)) is not None

    def explain(self, view: EventView) -> Outcome:
        reasons = []
        for i, term in enumerate(self.terms):
            for name in self.fields:
                if self._found(view, name, i):
                    word = "the word " if self.word else ""
                    reasons.append(f"{name} contained {word}{term!r}")
                    break
        if reasons:
            return Outcome(True, tuple(reasons))
        kind = "any of the words" if self.word else "any of"
        where = " or ".join(self.fields)
        terms = ", ".join(repr(t) for t in self.terms)
        return Outcome(False, misses=(f"{where} did not contain {kind} {terms}",))

    def canonical(self) -> Any:
        return {
            "keywords": {"terms": list(self.terms), "word": self.word, "fields": list(self.fields)}
        }


class RegexCondition(Leaf):
    """An RE2 pattern searched in one or more fields (linear time, whatever the text)."""

    cost = 3

    def __init__(
        self, pattern: str, compiled: Any, fields: tuple[str, ...], ignore_case: bool
    ) -> None:
        self.pattern = pattern
        self.compiled = compiled
        self.fields = fields
        self.ignore_case = ignore_case
        # Literals every match contains (prefilter.py): a field without any cannot match, and
        # `in` costs much less than an RE2 search; None when the pattern does not say.
        self.required = required_literals(pattern, ignore_case)
        folded = self.required is not None and self.required.folded
        self.joined = JoinedKey(fields, "folded" if folded else "text")
        # The same program over the UTF-8 bytes of the text (encoded once per event): RE2's
        # binding then skips re-encoding the text and mapping byte offsets back per search.
        # A match covers whole characters, so its bytes decode to the very text the str
        # search finds; `\C` (one byte) can split one, so such a pattern keeps the str search.
        self.binary = None if "\\C" in pattern else over_bytes(compiled)

    def check(self, view: EventView) -> bool:
        required = self.required
        if required is not None and len(self.fields) > 1:
            everywhere = view.joined(self.joined)
            for literal in required.strings:
                if literal in everywhere:
                    break
            else:
                return False  # in no field: no match anywhere
        for name in self.fields:
            if self._may_match(view, name) and self._search(view, name) is not None:
                return True
        return False

    def _may_match(self, view: EventView, name: str) -> bool:
        """False when the field holds none of the literals every match needs."""
        required = self.required
        if required is None:
            return True
        haystack = view.folded(name) if required.folded else view.text(name)
        for literal in required.strings:  # noqa: SIM110 (a loop, not any(genexpr): hot path)
            if literal in haystack:
                return True
        return False

    def _search(self, view: EventView, name: str) -> str | None:
        """The text of the first match in the field, or None."""
        if self.binary is None:
            found = self.compiled.search(view.text(name))
            return None if found is None else str(found.group(0))
        found = self.binary.search(view.encoded(name))
        return None if found is None else bytes(found.group(0)).decode("utf-8")

    def explain(self, view: EventView) -> Outcome:
        for name in self.fields:
            if not self._may_match(view, name):
                continue
            matched = self._search(view, name)
            if matched is not None:
                snippet = _short(matched)
                return Outcome(True, (f"{name} matched /{self.pattern}/ ({snippet!r})",))
        where = " or ".join(self.fields)
        return Outcome(False, misses=(f"{where} did not match /{self.pattern}/",))

    def canonical(self) -> Any:
        return {
            "regex": {
                "pattern": self.pattern,
                "fields": list(self.fields),
                "ignore_case": self.ignore_case,
            }
        }


class ValueInCondition(Leaf):
    """An exact field value among a list: source, resource_type, event_type."""

    cost = 0

    def __init__(self, field: str, values: tuple[str, ...]) -> None:
        self.field = field
        self.values = values
        self.value_set = frozenset(values)

    def check(self, view: EventView) -> bool:
        return view.text(self.field) in self.value_set

    def explain(self, view: EventView) -> Outcome:
        value = view.text(self.field)
        if value in self.value_set:
            return Outcome(True, (f"{self.field} is {value}",))
        return Outcome(
            False,
            misses=(f"{self.field} {value or '(empty)'} is not one of {_quote_list(self.values)}",),
        )

    def canonical(self) -> Any:
        return {self.field: list(self.values)}


class GlobCondition(Leaf):
    """A field value matching one of several globs: source_key, resource_id."""

    cost = 1

    def __init__(self, field: str, patterns: tuple[str, ...], compiled: GlobSet) -> None:
        self.field = field
        self.patterns = patterns
        self.compiled = compiled
        self.each = tuple(compile_globs((p,)) for p in patterns)

    def check(self, view: EventView) -> bool:
        return self.compiled.matches(view.lower(self.field))

    def explain(self, view: EventView) -> Outcome:
        value = view.text(self.field)
        lowered = view.lower(self.field)
        for pattern, compiled in zip(self.patterns, self.each, strict=True):
            if compiled.matches(lowered):
                return Outcome(True, (f"{self.field} {value} matches {pattern!r}",))
        return Outcome(
            False,
            misses=(
                f"{self.field} {value or '(empty)'} matches none of {_quote_list(self.patterns)}",
            ),
        )

    def canonical(self) -> Any:
        return {self.field: list(self.patterns)}


class AuthorsCondition(Leaf):
    """The author on an allow list (when one is given) and on no block list; globs, any case."""

    cost = 1

    def __init__(self, allow: tuple[str, ...], block: tuple[str, ...]) -> None:
        self.allow = allow
        self.block = block
        self.allow_re = compile_globs(allow) if allow else None
        self.block_re = compile_globs(block) if block else None

    def _allowed(self, author: str) -> bool:
        return self.allow_re is None or self.allow_re.matches(author)

    def _blocked(self, author: str) -> bool:
        return self.block_re is not None and self.block_re.matches(author)

    def check(self, view: EventView) -> bool:
        author = view.lower("author")
        return self._allowed(author) and not self._blocked(author)

    def explain(self, view: EventView) -> Outcome:
        author = view.text("author")
        lowered = author.lower()
        if self._blocked(lowered):
            return Outcome(False, misses=(f"author {author!r} is on the block list",))
        if not self._allowed(lowered):
            return Outcome(
                False,
                misses=(f"author {author!r} is not on the allow list {_quote_list(self.allow)}",),
            )
        reason = (
            f"author {author!r} is on the allow list"
            if self.allow
            else f"author {author!r} is not on the block list"
        )
        return Outcome(True, (reason,))

    def canonical(self) -> Any:
        return {"authors": {"allow": list(self.allow), "block": list(self.block)}}


class SetCondition(Leaf):
    """Labels (from the event) or tags (from earlier rules): any of / all of / none of; any case."""

    cost = 0

    def __init__(
        self,
        what: str,
        any_of: tuple[str, ...],
        all_of: tuple[str, ...],
        none_of: tuple[str, ...],
    ) -> None:
        self.what = what  # "label" or "tag"
        self.any_of, self.all_of, self.none_of = any_of, all_of, none_of
        self._any = frozenset(v.lower() for v in any_of)
        self._all = frozenset(v.lower() for v in all_of)
        self._none = frozenset(v.lower() for v in none_of)

    def _present(self, view: EventView) -> frozenset[str]:
        if self.what == "label":
            return view.labels_lower()
        return frozenset(tag.lower() for tag in view.tags)

    def check(self, view: EventView) -> bool:
        present = self._present(view)
        return (
            (not self._any or not self._any.isdisjoint(present))
            and self._all <= present
            and self._none.isdisjoint(present)
        )

    def explain(self, view: EventView) -> Outcome:
        present = self._present(view)
        reasons: list[str] = []
        misses: list[str] = []
        if self._any:
            hits = [v for v in self.any_of if v.lower() in present]
            if hits:
                reasons += [f"{self.what} {v!r} present" for v in hits]
            else:
                misses.append(f"no {self.what} of {_quote_list(self.any_of)} present")
        for value in self.all_of:
            if value.lower() in present:
                reasons.append(f"{self.what} {value!r} present")
            else:
                misses.append(f"{self.what} {value!r} missing")
        for value in self.none_of:
            if value.lower() in present:
                misses.append(f"{self.what} {value!r} present")
            else:
                reasons.append(f"{self.what} {value!r} absent")
        if misses:
            return Outcome(False, misses=tuple(misses))
        return Outcome(True, tuple(dict.fromkeys(reasons)))

    def canonical(self) -> Any:
        return {
            f"{self.what}s": {
                "any": list(self.any_of),
                "all": list(self.all_of),
                "none": list(self.none_of),
            }
        }


class TagSetCondition(SetCondition):
    """Tags set by earlier rules: they change while rules run, so never memoised."""

    def __init__(
        self, any_of: tuple[str, ...], all_of: tuple[str, ...], none_of: tuple[str, ...]
    ) -> None:
        super().__init__("tag", any_of, all_of, none_of)

    def test(self, view: EventView) -> bool:
        return self.check(view)


class PriorityCondition(Leaf):
    """The priority so far: set by an earlier rule, else the event's own, else normal.

    It changes while rules run, so it is never memoised.
    """

    cost = 0

    def test(self, view: EventView) -> bool:
        return self.check(view)

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.value_set = frozenset(values)

    def check(self, view: EventView) -> bool:
        return view.priority in self.value_set

    def explain(self, view: EventView) -> Outcome:
        if view.priority in self.value_set:
            return Outcome(True, (f"priority is {view.priority}",))
        return Outcome(
            False, misses=(f"priority {view.priority} is not one of {_quote_list(self.values)}",)
        )

    def canonical(self) -> Any:
        return {"priority": list(self.values)}
