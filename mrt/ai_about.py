"""AI2's embeddings mode: the new events of a cycle and the rules' `about:` topics, embedded
before the rules run, so that `about:` compares meanings (mrt.rules.about reads the scores).

    await embed_about(config, ruleset, events, env, db)

Only with AI on, an `ai.embedding_model` and at least one `about:` condition. Vectors are cached
in the ai cache table (a topic by the hash of its text, an event by its fingerprint; the model
and PROMPT_VERSION), so a topic is embedded once and an event never twice; what is missing is
asked in one request, bounded by `ai.timeout_seconds`. This is before the commit but never
holds it up for long: if the endpoint fails, is slow past the bound, or answers out of shape,
each event records why (`ABOUT_FALLBACK`) and the lexical mode decides, as with AI off. Each
event's text is its title and summary, bounded (`ai.max_input_chars`) and scrubbed of secrets.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence

import peewee

from mrt.ai.client import AiClient
from mrt.ai.embeddings import ABOUT_FALLBACK, ABOUT_SCORES, PROMPT_VERSION, cosine
from mrt.ai.usage import AiSettings, AiUsage
from mrt.config import Config, secret_values
from mrt.errors import AiError
from mrt.events import TrackerEvent, utcnow
from mrt.rules import RuleSet
from mrt.rules.about import AboutCondition
from mrt.rules.combinators import AllCondition, AnyCondition, NotCondition
from mrt.rules.conditions import Condition
from mrt.secrets import Scrubber
from mrt.store import ai_cache
from mrt.store.db import write_transaction

log = logging.getLogger("mrt.ai")
CAPABILITY = "embedding"


def about_topics(ruleset: RuleSet) -> list[str]:
    """Every `about:` topic of the rules, once each, in rule order."""
    def walk(node: Condition) -> Iterator[str]:
        if isinstance(node, AboutCondition):
            yield node.topic.text
        elif isinstance(node, AllCondition | AnyCondition):
            for child in node.children:
                yield from walk(child)
        elif isinstance(node, NotCondition):
            yield from walk(node.child)

    return list(dict.fromkeys(t for rule in ruleset.rules for t in walk(rule.condition)))


def topic_key(topic: str) -> str:
    return "topic:" + hashlib.sha256(topic.encode()).hexdigest()


def event_text(event: TrackerEvent, scrubber: Scrubber, max_chars: int) -> str:
    return scrubber(f"{event.title}\n{event.summary}")[:max_chars]


async def embed_about(
    config: Config, ruleset: RuleSet, events: Sequence[TrackerEvent], env: Mapping[str, str],
    db: peewee.Database, *, usage: AiUsage | None = None,
) -> None:
    """Put each event's similarity to every topic in its details (or why it could not)."""
    settings = AiSettings.from_config(config.ai, env)
    if settings is None or settings.embedding_model is None or not events:
        return
    topics = about_topics(ruleset)
    if not topics:
        return
    model = settings.embedding_model
    keys = [topic_key(t) for t in topics] + [e.fingerprint for e in events]
    scrubber = Scrubber(secret_values(config, env))
    texts = topics + [event_text(e, scrubber, config.ai.max_input_chars) for e in events]
    vectors: dict[str, list[float]] = {}
    for key in keys:
        cached = ai_cache.cached(key, CAPABILITY, model, PROMPT_VERSION)
        if cached is not None:
            vectors[key] = [float(x) for x in json.loads(cached)]
            if usage is not None:
                usage.cache_hit(CAPABILITY)
    asked = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in vectors]
    if asked:
        try:
            async with AiClient(settings, usage=usage) as client:
                answer = await asyncio.wait_for(
                    client.embed([t for _, t in asked]), timeout=config.ai.timeout_seconds
                )
        except (AiError, TimeoutError) as exc:
            why = scrubber(str(exc) or "no answer within ai.timeout_seconds")
            log.warning("about: embeddings unavailable, the lexical mode decides: %s", why)
            if usage is not None:
                usage.fallback(CAPABILITY)
            for event in events:
                event.details[ABOUT_FALLBACK] = why
            return
        now = utcnow()
        with write_transaction(db):
            for (key, _), vector in zip(asked, answer, strict=True):
                vectors[key] = vector
                ai_cache.remember(key, CAPABILITY, model, PROMPT_VERSION, json.dumps(vector), now)
    for event in events:
        own = vectors[event.fingerprint]
        event.details[ABOUT_SCORES] = {t: cosine(own, vectors[topic_key(t)]) for t in topics}
