"""A regex rule asks RE2 only when the text holds a literal every match needs (issue 13).

The prefilter (mrt/rules/prefilter.py) must never change a decision: these tests compare it
with RE2 itself, over every code point RE2 folds to an ASCII letter, over patterns it must not
model, over hostile and tricky text, and over the ingest benchmark's events through the real
config loader (the same decisions, reasons and nearest misses as without it).
"""

from __future__ import annotations

import dataclasses

import pytest
import re2

from mrt.config import config_from_dict
from mrt.rules import compile_rules
from mrt.rules.conditions import KeywordsCondition, Outcome, RegexCondition, _short
from mrt.rules.fields import EventView
from mrt.rules.patterns import re2_options
from mrt.rules.prefilter import fold, required_literals
from tests.bench.corpus import bench_rules, make_events
from tests.hostile import CORPUS


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "literals"),
    [
        (r"(?i)\b(perf|latency|throughput)", False, ("latency", "perf", "throughput")),
        (r"(?i)deepseek[-_ ]?v3", False, ("deepseek",)),
        (r"(?i)qwen\d*(\.\d+)?-\d+b", False, ("qwen",)),
        (r"^\[RFC\]", False, ("[RFC]",)),
        (r"^\[RFC\]", True, ("[rfc]",)),
        (r"tp=(4|8)", False, ("tp=",)),
        (r"(ab)+|c(?:de)", False, ("ab", "de")),
        (r"x{2}yz", False, ("yz",)),
        (r"\p{Greek}+bar[\]x]", False, ("bar",)),
        (r"(?P<m>llama)-\d", False, ("llama",)),
    ],
)
def test_the_literals_every_match_needs(
    pattern: str, ignore_case: bool, literals: tuple[str, ...]
) -> None:
    found = required_literals(pattern, ignore_case)
    assert found is not None and found.strings == literals


@pytest.mark.parametrize(
    "pattern",
    [
        "a|", "a*", "(a|)b?", "[[:alpha:]]+", r"\Qa.b\E", r"\x41", r"a{,2}", "(?i:foo)",
        "a(?i)b", r"\n", r"\d+", ".*", "(ab)?", "a{0}", "",
    ],
)
def test_what_it_does_not_model_always_goes_to_re2(pattern: str) -> None:
    assert required_literals(pattern, False) is None


def test_fold_keeps_every_character_re2_folds_to_an_ascii_one() -> None:
    """(?i)s matches `ſ` and (?i)k the Kelvin sign: fold() must turn them into the letter."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    partners = {}
    for code in range(0x20, 0x7F):
        literal = chr(code)
        options = re2_options()
        options.case_sensitive = False
        for found in re2.compile(re2.escape(literal), options).findall(every):
            partners[found] = literal.lower()
    assert partners["\u017f"] == "s" and partners["\u212a"] == "k"  # RE2 does fold these
    assert {c: fold(c) for c in partners} == partners


TRICKY = [
    "ſegfault in the kernel", "\u212aernel panic", "DEEPSEEK-V3 lands", "deep seek v3",
    "[rfc] lower", "[RFC] upper", "x [RFC] not first", "tp=4 and TP=8", "Qwen2.5-72B", "qwen-7b",
    "Llama3", "ＤeepSeek full-width", "nan loss", "NaN Loss", "core  dumped", "", "\n",
    "İstanbul ıdeepseek", "LATENCY", "throughput\u0130",
]
PATTERNS = [
    (r"(?i)\b(perf|latency|throughput)", False),
    (r"(?i)(deepseek|qwen|llama|mistral)[-_ ]?(v?\d+(\.\d+)?)?", False),
    (r"(?i)deepseek[-_ ]?v3", False), (r"(?i)qwen\d*(\.\d+)?-\d+b", False),
    (r"(?i)(segfault|core dumped|illegal memory access|nan loss)", False),
    (r"^\[RFC\]", False), (r"^\[RFC\]", True), (r"tp=(4|8)", False), (r"TP=(4|8)", True),
    (r"kernel", True), (r"(?i)SEGFAULT", False), (r"(?is)panic.*kernel", False),
]


def _condition(pattern: str, ignore_case: bool) -> RegexCondition:
    options = re2_options()
    options.case_sensitive = not ignore_case
    return RegexCondition(pattern, re2.compile(pattern, options), ("title",), ignore_case)


def test_a_prefiltered_regex_matches_exactly_what_re2_matches() -> None:
    texts = [*TRICKY, *CORPUS.values(), *(e.title + " " + e.summary for e in make_events(800))]
    base = make_events(1)[0]
    for pattern, ignore_case in PATTERNS:
        condition = _condition(pattern, ignore_case)
        assert condition.required is not None, pattern
        for text in texts:
            view = EventView(dataclasses.replace(base, title=text))
            expected = condition.compiled.search(view.text("title")) is not None
            assert condition.check(view) is expected, (pattern, text)


def test_a_match_is_explained_with_the_text_re2_found_whatever_the_script() -> None:
    cases = [
        (r"(?i)déjà\w*", "title DÉJÀvu 混合专家 and déjà"),
        (r"混合\S+", "a 混合专家模型 b"),
        (r"(?i)ſ+egfault", "ſſegFAULT here"),
        (r"\pL+\d", "emoji 🎉 Ωmega7"),
        (r"x\C+y", "xéy"),  # one byte at a time: explained through the str search
        (r"(?i)q\w+", "Qwen\u212a 7b"),
    ]
    base = make_events(1)[0]
    for pattern, text in cases:
        condition = _condition(pattern, ignore_case=False)
        view = EventView(dataclasses.replace(base, title=text))
        assert condition.explain(view) == plain_regex_explain(condition, view), pattern
        assert condition.check(view) is True
    assert _condition(r"x\C+y", ignore_case=False).binary is None


def plain_regex_check(self: RegexCondition, view: EventView) -> bool:
    """RegexCondition.check as it was before the prefilter: RE2 on every field."""
    return any(self.compiled.search(view.text(name)) is not None for name in self.fields)


def plain_regex_explain(self: RegexCondition, view: EventView) -> Outcome:
    """RegexCondition.explain as it was: RE2's str search on every field in turn."""
    for name in self.fields:
        found = self.compiled.search(view.text(name))
        if found is not None:
            snippet = _short(found.group(0))
            return Outcome(True, (f"{name} matched /{self.pattern}/ ({snippet!r})",))
    where = " or ".join(self.fields)
    return Outcome(False, misses=(f"{where} did not match /{self.pattern}/",))


def plain_keywords_check(self: KeywordsCondition, view: EventView) -> bool:
    """KeywordsCondition.check as it was before the joined haystack."""
    for name in self.fields:
        haystack = view.lower(name)
        if any(term in haystack for term in self.lowered) and (
            self.word_any is None or self.word_any.search(haystack) is not None
        ):
            return True
    return False


def plain_keywords_explain(self: KeywordsCondition, view: EventView) -> Outcome:
    """KeywordsCondition.explain as it was: RE2's str search for each word."""
    reasons = []
    for i, term in enumerate(self.terms):
        for name in self.fields:
            haystack = view.lower(name)
            if self.lowered[i] in haystack and (
                not self.word or self.word_each[i].search(haystack) is not None
            ):
                reasons.append(f"{name} contained {'the word ' if self.word else ''}{term!r}")
                break
    if reasons:
        return Outcome(True, tuple(reasons))
    kind = "any of the words" if self.word else "any of"
    terms = ", ".join(repr(t) for t in self.terms)
    return Outcome(False, misses=(f"{' or '.join(self.fields)} did not contain {kind} {terms}",))


def test_the_benchmark_events_get_the_same_decisions_with_and_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = bench_rules("json://127.0.0.1:9")
    config["rules"] += [
        {"name": "upper", "when": {"regex": {"pattern": "RFC|PERF", "ignore_case": True}},
         "notify": {"channels": ["team"]}},
        {"name": "words", "when": {"keywords": {"terms": ["bug", "模型", "déjà", "c++"],
                                                "word": True}},
         "notify": {"channels": ["team"]}},
    ]
    ruleset = compile_rules(config_from_dict(config))
    prefiltered = [
        c for r in ruleset.rules for c in [r.condition, *getattr(r.condition, "children", ())]
        if isinstance(c, RegexCondition) and c.required is not None
    ]
    assert len(prefiltered) == 8  # every regex rule of the benchmark has its literals
    events = make_events(3000)
    with monkeypatch.context() as plain:
        plain.setattr(RegexCondition, "check", plain_regex_check)
        plain.setattr(RegexCondition, "explain", plain_regex_explain)
        plain.setattr(KeywordsCondition, "check", plain_keywords_check)
        plain.setattr(KeywordsCondition, "explain", plain_keywords_explain)
        expected = [ruleset.evaluate(e, now=e.observed_at).as_json() for e in events]
    decided = [ruleset.evaluate(e, now=e.observed_at).as_json() for e in events]
    assert decided == expected
    assert {d["action"] for d in decided} == {"notify", "suppress", "none"}
    assert sum(1 for d in decided if d["nearest"]) > 1000  # the nearest misses too
