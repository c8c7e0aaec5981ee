"""`about:`: an event against a described topic, scored by its words (mrt.ai.lexical).

    about: "new model architectures or weights from DeepSeek or Qwen"
    about: {topic: "...", threshold: 0.4, fields: [title, summary, labels]}

The score (0..1) is what the rule's explanation, `mrt rules test` and the "nearest miss" show:
an event that missed says how close it came and which of the topic's terms it lacked. This is
the lexical mode, the one that needs no model and is in force in this release; `mrt check`
says so. Each field is read up to MAX_ABOUT_CHARS characters (an issue body is long; its start
says what it is about).
"""

from __future__ import annotations

from typing import Any

from mrt.ai.embeddings import ABOUT_FALLBACK, ABOUT_SCORES
from mrt.ai.lexical import LexicalTopic, TopicMatch
from mrt.rules.conditions import Leaf, Outcome, _short
from mrt.rules.fields import EventView

MAX_ABOUT_CHARS = 20_000
DEFAULT_THRESHOLD = 0.4
DEFAULT_EMBEDDING_THRESHOLD = 0.75
MODE = "lexical"


class AboutCondition(Leaf):
    cost = 5  # tokenising the fields: after the cheap checks inside all/any

    def __init__(
        self, topic: str, threshold: float, fields: tuple[str, ...],
        embedding_threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
    ) -> None:
        self.topic = LexicalTopic.compile(topic)
        self.threshold = threshold
        self.fields = fields
        self.embedding_threshold = embedding_threshold

    def scored(self, view: EventView) -> tuple[TopicMatch, float, str]:
        """(the match, the threshold it is held to, the mode that scored it)."""
        details = view.event.details
        scores = details.get(ABOUT_SCORES)
        if isinstance(scores, dict):
            value = scores.get(self.topic.text)
            if isinstance(value, int | float):
                return TopicMatch(float(value), (), ()), self.embedding_threshold, "embeddings"
        text = "\n".join(view.text(name)[:MAX_ABOUT_CHARS] for name in self.fields)
        mode = MODE
        if details.get(ABOUT_FALLBACK):
            mode = f"{MODE} (embeddings unavailable: {_short(str(details[ABOUT_FALLBACK]))})"
        return self.topic.similarity(text), self.threshold, mode

    def match(self, view: EventView) -> TopicMatch:
        return self.scored(view)[0]

    def check(self, view: EventView) -> bool:
        found, threshold, _ = self.scored(view)
        return found.score >= threshold

    def score(self, view: EventView) -> float:
        """How close it came, for the nearest miss: the similarity itself."""
        return self.match(view).score

    def explain(self, view: EventView) -> Outcome:
        found, threshold, mode = self.scored(view)
        topic = repr(_short(self.topic.text))
        if found.score >= threshold:
            terms = f" ({', '.join(found.found)})" if found.found else ""
            return Outcome(True, (
                f"about {topic}: {mode} similarity {found.score:.2f} >= {threshold:.2f}{terms}",
            ))
        lacking = f"; lacks {', '.join(found.missing)}" if found.missing else ""
        return Outcome(False, misses=(
            f"about {topic}: {mode} similarity {found.score:.2f} < {threshold:.2f}{lacking}",
        ))

    def canonical(self) -> Any:
        spec: dict[str, Any] = {"topic": self.topic.text, "threshold": self.threshold,
                                "fields": list(self.fields), "mode": MODE}
        if self.embedding_threshold != DEFAULT_EMBEDDING_THRESHOLD:
            spec["embedding_threshold"] = self.embedding_threshold
        return {"about": spec}
