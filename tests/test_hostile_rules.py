"""The hostile corpus through the rules: evaluation and the dry run (`mrt rules test`).

Every string goes in as a title, summary, author and label at once (lone surrogates included:
the rules see what a source parsed, before anything is stored). Keyword (word and substring),
RE2 regex, label, author and glob conditions evaluate without raising; the dry run's samples
and report are inert on a terminal and a 1 MB title stays one short line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.inert import terminal_json
from mrt.rules import compile_rules
from mrt.rules.dryrun import SAMPLE_TITLE_CHARS, StoredEvent, format_report, run_rules_test
from tests.hostile import CASES, CORPUS, MB_TITLE, assert_inert

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
RULES = compile_rules(
    Config.model_validate(
        {
            "watch_keywords": ["deepseek", "所有人"],
            "channels": {"ops": {"urls": ["json://127.0.0.1/ops"]}},
            "rules": [
                {"name": "bots", "when": {"authors": {"allow": ["*[bot]"]}}, "suppress": True},
                {"name": "words", "when": {"keywords": {"terms": ["qwen", "bug"], "word": True}},
                 "notify": {"channels": ["ops"]}},
                {"name": "regex", "when": {"regex": {"pattern": "(?i)red|inst|all",
                                                     "fields": ["title", "summary"]}},
                 "notify": {"channels": ["ops"]}},
                {"name": "labelled", "when": {"labels": {"any": ["bug"]}},
                 "notify": {"channels": ["ops"]}},
            ],
        }
    )
)


def event(text: str, n: int = 0, *, title: str | None = None) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:org/repo",
        resource_type="issue",
        resource_id=str(n),
        event_type="issue_opened",
        event_id=str(n),
        title=text if title is None else title,
        summary=text,
        url="https://github.com/org/repo/issues/1",
        author=text,
        labels=(text, "bug"),
        observed_at=NOW,
    )


@pytest.mark.parametrize("text", CASES)
def test_every_corpus_string_is_evaluated(text: str) -> None:
    decision = RULES.evaluate(event(text), now=NOW)
    assert decision.action in ("notify", "suppress", "none")
    terminal_json(decision.as_json()).encode("utf-8")  # what is stored and shown can be encoded


def test_the_dry_run_over_the_whole_corpus_reads_inert() -> None:
    stored = [
        StoredEvent(event(text, n), "none", alerted=False)
        for n, text in enumerate([*CORPUS.values(), MB_TITLE])
    ]
    report = run_rules_test(RULES, stored, since=NOW - timedelta(days=1), now=NOW, samples=100)

    assert report.events == len(CORPUS) + 1
    text = format_report(report)
    assert_inert(text)
    assert len(text) < 100_000  # the 1 MB title is a sample of SAMPLE_TITLE_CHARS
    as_json = terminal_json(report.as_json())
    assert_inert(as_json)
    titles = [s.title for h in report.hits.values() for s in h.samples]
    assert max(len(t) for t in titles) == SAMPLE_TITLE_CHARS
    assert "[/INST] Fix prompt template" in titles  # markup is kept as text
