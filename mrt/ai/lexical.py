"""How close a text is to a described topic, by its words alone: AI2's lexical mode.

    topic = LexicalTopic.compile("new model architectures or weights from DeepSeek or Qwen")
    match = topic.similarity("DeepSeek-V4 weights are on the Hub")
    match.score      0.5   (0..1: the weighted share of the topic's terms the text has)
    match.found      ("deepseek", "weight")
    match.missing    ("new", "model", "architecture", "qwen")

No model and no network: a rule with `about:` evaluates the same with AI off, on a laptop
without an endpoint, in `mrt rules test`. Deterministic: the same topic and text give the same
score on every machine.

- Terms are the topic's words without stop words ("or", "from", "the", ...), lower-cased and
  reduced to a crude stem (architectures -> architectur, weights -> weight), so that plural and
  verb forms meet. A CJK run counts as its overlapping two-character pieces.
- A name weighs twice an ordinary word: a term the topic capitalises (but for its first word),
  writes with a capital inside (DeepSeek, vLLM), with a digit (V4, fp8) or a hyphen. What a
  topic names is usually what it is about. A text's `qwen3` or `deepseek-v4` also counts as
  `qwen` or `deepseek`.
- The text's terms are made the same way; the score is the weight of the topic terms found,
  over the weight of all of them. A long topic ("X or Y or Z") therefore needs a lower
  threshold: `mrt rules test` shows each event's score to choose it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@functools.cache
def _word() -> re.Pattern[str]:
    """Compiled on first use: with IGNORECASE and the CJK ranges it costs ~3 ms, paid by
    every process that imports the rules (the worker at start) if compiled at import."""
    return re.compile(r"[0-9a-z]+(?:[-_.][0-9a-z]+)*|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+",
                      re.IGNORECASE)


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "ly", "s")
STOP_WORDS = frozenset(
    ["a", "an", "and", "any", "are", "as", "at", "be", "been", "by", "can", "do", "for", "from", "has", "have", "how", "i", "in", "into", "is", "it", "its", "more", "new", "of", "on", "or", "our", "out", "over", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "this", "those", "to", "up", "was", "we", "were", "what", "when", "where", "which", "while", "who", "will", "with", "within", "without", "you", "your", "about", "after", "all", "also", "but", "not", "no"]
)


def stem(word: str) -> str:
    """A crude, deterministic stem: enough for plurals and -ing/-ed/-ation forms to meet."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # release, releases, released -> releas; architecture(s) -> architectur
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word


def worded_pieces(token: str) -> dict[str, str]:
    """{term: the word it came from} for one lower-cased token (what `mrt rules suggest`
    shows: a keyword is a word, not a stem)."""
    if token.isascii():
        # deepseek-v4 -> deepseek-v4, deepseek, v4; qwen3 -> qwen3, qwen
        parts = [token, *re.split(r"[-_.]", token)]
        parts += [a for p in parts for a in re.findall(r"[a-z]{2,}", p) if a != p]
        found: dict[str, str] = {}
        for part in parts:
            if part:
                found.setdefault(stem(part), part)
        return found
    if len(token) == 1:
        return {token: token}
    return {token[i : i + 2]: token[i : i + 2] for i in range(len(token) - 1)}  # CJK bigrams


def _pieces(token: str) -> list[str]:
    return list(worded_pieces(token))


def words(text: str) -> dict[str, str]:
    """{term: the first word it came from} for `text` (stop words left out)."""
    found: dict[str, str] = {}
    for match in _word().finditer(text):
        token = match[0].lower()
        if token in STOP_WORDS:
            continue
        for term, word in worded_pieces(token).items():
            if term not in STOP_WORDS:
                found.setdefault(term, word)
    return found


def terms(text: str) -> set[str]:
    """The stemmed content terms of `text` (lower-cased; stop words left out)."""
    found: set[str] = set()
    for match in _word().finditer(text):
        token = match[0].lower()
        if token in STOP_WORDS:
            continue
        found.update(p for p in _pieces(token) if p not in STOP_WORDS)
    return found


def _is_name(word: str, first: bool) -> bool:
    return (
        any(c.isdigit() for c in word)
        or any(c in "-_." for c in word)
        or any(c.isupper() for c in word[1:])
        or (not first and word[:1].isupper())
    )


@dataclass(frozen=True, slots=True)
class TopicMatch:
    score: float
    found: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LexicalTopic:
    text: str
    weights: tuple[tuple[str, float], ...]  # (term, weight), in the topic's order

    @classmethod
    def compile(cls, text: str) -> LexicalTopic:
        weights: dict[str, float] = {}
        for n, match in enumerate(_word().finditer(text)):
            word = match[0]
            if word.lower() in STOP_WORDS:
                continue
            weight = 2.0 if _is_name(word, first=n == 0) else 1.0
            for piece in _pieces(word.lower()):
                if piece not in STOP_WORDS:
                    weights[piece] = max(weight, weights.get(piece, 0.0))
        return cls(text, tuple(weights.items()))

    def similarity(self, text: str) -> TopicMatch:
        have = terms(text)
        total = sum(w for _, w in self.weights)
        found = tuple(t for t, _ in self.weights if t in have)
        missing = tuple(t for t, _ in self.weights if t not in have)
        score = sum(w for t, w in self.weights if t in have) / total if total else 0.0
        return TopicMatch(round(score, 4), found, missing)
