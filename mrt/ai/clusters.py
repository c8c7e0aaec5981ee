"""AI3 clustering, lexical: the same topic seen several times in a short window is one cluster.

    item = ClusterItem.of(fingerprint, title)
    ids = assign(new_items, recent, threshold)      one cluster id per new item, in order

An item's terms are its title's (mrt.ai.lexical.terms; a body is left out: the same topic's
model card, pull request and mirror share a name, not their prose), each weighted by how
specific it is: a term with a digit (deepseek-v4, qwen3, v4, fp8) weighs 3, any
other 1. Two items are as similar as the weighted Jaccard of their terms (shared weight over
the weight of either). A new item joins the cluster of the most similar item seen before it,
recent ones first and then the earlier items of its own batch, when that similarity reaches
`threshold`; otherwise it starts a cluster whose id is `c` + the first 12 characters of its own
fingerprint. So an id never changes once given (stable), the same items in the same order get
the same ids (deterministic; ties go to the earliest), and it needs no model.

"DeepSeek-V4 weights" (Hugging Face), "[Model] Support DeepSeek-V4" (a vLLM PR) and
"deepseek-ai/DeepSeek-V4" (a ModelScope mirror) share deepseek, deepseek-v4 and v4: about 0.6.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mrt.ai.lexical import terms

SPECIFIC_WEIGHT = 3.0


def weighted_terms(text: str) -> dict[str, float]:
    return {t: SPECIFIC_WEIGHT if any(c.isdigit() for c in t) else 1.0 for t in terms(text)}


def similarity(a: dict[str, float], b: dict[str, float]) -> float:
    shared = sum(w for t, w in a.items() if t in b)
    union = sum(a.values()) + sum(b.values()) - shared
    return round(shared / union, 4) if union else 0.0


@dataclass(frozen=True, slots=True)
class ClusterItem:
    fingerprint: str
    terms: dict[str, float]
    cluster: str | None = None  # given, for an item seen before

    @classmethod
    def of(cls, fingerprint: str, title: str, cluster: str | None = None) -> ClusterItem:
        return cls(fingerprint, weighted_terms(title), cluster)


def new_cluster_id(fingerprint: str) -> str:
    return "c" + fingerprint[:12]


def assign(
    new: Sequence[ClusterItem], recent: Iterable[ClusterItem], threshold: float
) -> list[str]:
    """The cluster id of each new item (see the module's docstring)."""
    seen = [r for r in recent if r.cluster]
    ids: list[str] = []
    for item in new:
        best, best_score = None, 0.0
        for other in seen:
            score = similarity(item.terms, other.terms)
            if score > best_score:
                best, best_score = other, score
        cluster = best.cluster if best is not None and best_score >= threshold else None
        cluster = cluster or new_cluster_id(item.fingerprint)
        ids.append(cluster)
        seen.append(ClusterItem(item.fingerprint, item.terms, cluster))
    return ids
