"""AI2's embeddings mode for `about:` conditions: what the worker leaves on an event for the
rules to read (mrt.ai_about computes it, mrt.rules.about reads it).

    event.details[ABOUT_SCORES]   {topic: cosine similarity of the event's and the topic's
                                   embeddings, 0..1 (negative clipped to 0)}
    event.details[ABOUT_FALLBACK] why the lexical mode decided instead (the endpoint failed)

Both are stored with the event, so `mrt trace`, `mrt rules test` and a replay read the scores
the decision was made with, without asking a model again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

ABOUT_SCORES = "mrt.about_embeddings"
ABOUT_FALLBACK = "mrt.about_fallback"
PROMPT_VERSION = "embed-1"  # the text an event is embedded from: title, then summary


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity clipped to 0..1, rounded (deterministic to print and compare)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if not norm:
        return 0.0
    return round(max(0.0, min(1.0, dot / norm)), 4)
