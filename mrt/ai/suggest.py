"""Keywords learned from past matches (AI2's `mrt rules suggest`): no model, deterministic.

    found = suggest(matched_texts, other_texts, known=("deepseek",), top=10)
    found[0].word     "weights"   (the word to put in `keywords:`)
    found[0].score    1.2877      (TF-IDF: how much more often the matches say it)
    found[0].matched  4           (matched events that say it)
    found[0].other    0           (other events that say it)

Each text is an event's title and summary, cut into the terms `about:` uses (mrt.ai.lexical:
lower case, stop words out, a crude stem). A term scores

    (share of the matched events with it - share of the others with it) * idf
    idf = ln((all events + 1) / (events with it + 1)) + 1

so a word the rule's matches share and the rest rarely say comes first; a word every event
says (a repository's name) sinks. A term must be in at least two matched events (one, when
only one matched), must score above zero, must have a letter (no bare numbers), and must not
already be a term of the rule (`known`). Ties go to the word seen in more matches, then alphabetically: the same stored events
always give the same list.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from mrt.ai.lexical import words


@dataclass(frozen=True, slots=True)
class Suggestion:
    word: str
    score: float
    matched: int
    other: int

    def as_json(self) -> dict[str, object]:
        return {"word": self.word, "score": self.score, "matched": self.matched,
                "other": self.other}


def suggest(
    matched: Iterable[str], other: Iterable[str], *, known: Iterable[str] = (), top: int = 10
) -> list[Suggestion]:
    in_matched: Counter[str] = Counter()
    in_other: Counter[str] = Counter()
    word_counts: dict[str, Counter[str]] = {}
    n_matched = n_other = 0
    for text in matched:
        n_matched += 1
        said = words(text)
        in_matched.update(said.keys())
        for term, word in said.items():
            word_counts.setdefault(term, Counter())[word] += 1
    for text in other:
        n_other += 1
        in_other.update(words(text).keys())
    if not n_matched:
        return []
    skip = {term for text in known for term in words(text)}
    support = 2 if n_matched >= 2 else 1
    total = n_matched + n_other
    found: list[Suggestion] = []
    for term, count in in_matched.items():
        if count < support or term in skip or not any(c.isalpha() for c in term):
            continue
        share = count / n_matched - (in_other[term] / n_other if n_other else 0.0)
        idf = math.log((total + 1) / (count + in_other[term] + 1)) + 1
        score = round(share * idf, 4)
        if score <= 0:
            continue
        word = min(word_counts[term].items(), key=lambda wc: (-wc[1], wc[0]))[0]
        found.append(Suggestion(word, score, count, in_other[term]))
    found.sort(key=lambda s: (-s.score, -s.matched, s.word))
    unique: dict[str, Suggestion] = {}
    for item in found:  # two stems from one word (weights/weight): the word once
        if any(  # a part always seen with its whole (fp in fp8, v3 in deepseek-v3): the whole
            o.word != item.word and item.word in o.word
            and (o.matched, o.other) == (item.matched, item.other)
            for o in found
        ):
            continue
        unique.setdefault(item.word, item)
    return list(unique.values())[: max(0, top)]
