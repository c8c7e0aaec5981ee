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

from mrt.ai.lexical import LexicalTopic, TopicMatch
from mrt.rules.conditions import Leaf, Outcome, _short
from mrt.rules.fields import EventView

MAX_ABOUT_CHARS = 20_000
DEFAULT_THRESHOLD = 0.4
MODE = "lexical"


class AboutCondition(Leaf):
    cost = 5  # tokenising the fields: after the cheap checks inside all/any

    def __init__(self, topic: str, threshold: float, fields: tuple[str, ...]) -> None:
        self.topic = LexicalTopic.compile(topic)
        self.threshold = threshold
        self.fields = fields

    def match(self, view: EventView) -> TopicMatch:
        text = "\n".join(view.text(name)[:MAX_ABOUT_CHARS] for name in self.fields)
        return self.topic.similarity(text)

    def check(self, view: EventView) -> bool:
        return self.match(view).score >= self.threshold

    def score(self, view: EventView) -> float:
        """How close it came, for the nearest miss: the similarity itself."""
        return self.match(view).score

    def explain(self, view: EventView) -> Outcome:
        found = self.match(view)
        topic = repr(_short(self.topic.text))
        if found.score >= self.threshold:
            return Outcome(True, (
                f"about {topic}: {MODE} similarity {found.score:.2f} >= {self.threshold:.2f} "
                f"({', '.join(found.found)})",
            ))
        lacking = f"; lacks {', '.join(found.missing)}" if found.missing else ""
        return Outcome(False, misses=(
            f"about {topic}: {MODE} similarity {found.score:.2f} < {self.threshold:.2f}"
            f"{lacking}",
        ))

    def canonical(self) -> Any:
        return {"about": {"topic": self.topic.text, "threshold": self.threshold,
                          "fields": list(self.fields), "mode": MODE}}
