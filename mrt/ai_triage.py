"""AI4 triage after ingest: a triage rule's alert is routed by the model's score before it is due.

    step = TriageStep(config, client, db, scrubber)
    step.hold_new(now)                  right before a sender claims (quick)
    report = await step.run(now)        between a cycle's commit and the sends (slow)

A cycle commits a triage rule's match as the rule's plain decision (`notify`, with its plain
text and its deliveries), exactly as without AI: nothing of AI is on the commit path. The
decision carries the rule's policy (Decision.triage). This step, like the summaries
(mrt.ai_hooks), holds those untried deliveries at most `ai.summary_wait_seconds` after their
creation and asks for a score (mrt.ai.triage), which may only choose among the rule's own
routes:
- at or above `instant_at`: due at once (when summaries are on, the summary step that runs
  right after makes it due, with its summary or plain: `leave_held`);
- below `digest_below`: the alert leaves the outbox and its event goes to the rule's digest;
- in between, or with no usable score (invalid output, low confidence, the endpoint down or
  slow, our per-minute budget spent): the rule's plain decision, due at once.
Every outcome is written into the event's decision detail (`triaged`: route, by ai or rule,
why, score, model) for `mrt trace` and `mrt events`; a routed alert is not asked again. A
sender that took a delivery first wins: the alert is never moved once a try has begun.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.ai.client import AiClient
from mrt.ai.triage import RuleRoutes, TriageOutcome, TriagePolicy, triage
from mrt.config import Config
from mrt.secrets import Scrubber
from mrt.store import ai_cache
from mrt.store.ai_cache import AwaitingDelivery
from mrt.store.db import write_transaction
from mrt.store.history import tracker_event

log = logging.getLogger("mrt.ai")

REST_AFTER_FAILURE = timedelta(seconds=60)  # as the summaries: a down endpoint costs nothing
CONCURRENCY = 8
ROUTES = RuleRoutes(plain="notify", declared=frozenset({"notify", "digest"}))


@dataclass
class TriageReport:
    instant: int = 0  # alerts due at once (a high score, or the in-between plain decision)
    digested: int = 0  # alerts moved to their rule's digest
    fallback: int = 0  # alerts the rule's plain decision routed (no usable score)


@dataclass
class TriageStep:
    config: Config
    client: AiClient
    db: peewee.Database
    scrubber: Scrubber
    resting_until: datetime | None = None  # after an endpoint failure: nothing asked
    # summaries on: a routed row stays held for the summary step, which runs right after and
    # makes it due (with its summary, or plain); released here, a sender could take it first
    leave_held: bool = False

    @property
    def wait(self) -> timedelta:
        return timedelta(seconds=self.config.ai.summary_wait_seconds)

    def _awaiting(self, at: datetime) -> list[AwaitingDelivery]:
        return [
            r for r in ai_cache.awaiting_summary(at - self.wait)
            if ai_cache.triage_pending(r.decision)
        ]

    def _resting(self, at: datetime) -> bool:
        return self.resting_until is not None and at < self.resting_until

    def hold_new(self, at: datetime) -> list[AwaitingDelivery]:
        """Untriaged first tries wait for their score, at most the bound after creation."""
        if self._resting(at):
            return []
        rows = self._awaiting(at)
        unheld = [r for r in rows if r.next_attempt_at < r.created_at + self.wait]
        if unheld:
            with write_transaction(self.db):
                for created in {r.created_at for r in unheld}:
                    ai_cache.hold(
                        [r for r in unheld if r.created_at == created], created + self.wait
                    )
        return rows

    async def run(self, now: Callable[[], datetime]) -> TriageReport:
        report = TriageReport()
        rows = self._awaiting(now()) if self._resting(now()) else self.hold_new(now())
        groups: dict[int, list[AwaitingDelivery]] = {}
        for row in rows:
            groups.setdefault(row.alert_id, []).append(row)
        asking = asyncio.Semaphore(CONCURRENCY)

        async def one(group: list[AwaitingDelivery]) -> None:
            async with asking:
                outcome = await self._score(group, now)
                self._apply(group, outcome, now(), report)

        try:
            await asyncio.gather(*(one(group) for group in groups.values()))
        finally:  # whatever went wrong, a held row is due now with the rule's plain decision
            if not self.leave_held:
                with write_transaction(self.db):
                    ai_cache.release(rows, now())
        return report

    async def _score(
        self, group: list[AwaitingDelivery], now: Callable[[], datetime]
    ) -> TriageOutcome:
        if self._resting(now()):
            self.client.usage.fallback("triage")
            return TriageOutcome("notify", "rule", "AI unavailable (resting after a failure), "
                                 "the rule decides")
        policy = TriagePolicy(**{
            k: float(v) for k, v in dict(group[0].decision["triage"]).items()
            if k in ("instant_at", "digest_below", "min_confidence")
        })
        left = (min(r.created_at for r in group) + self.wait - now()).total_seconds()
        try:
            if left <= 0:
                raise TimeoutError
            outcome = await asyncio.wait_for(
                triage(self.client, tracker_event(group[0].event), ROUTES, policy,
                       scrubber=self.scrubber, max_input_chars=self.config.ai.max_input_chars),
                timeout=left,
            )
        except TimeoutError:
            self.client.usage.fallback("triage")
            return TriageOutcome(
                "notify", "rule",
                f"no score within ai.summary_wait_seconds ({self.config.ai.summary_wait_seconds}"
                " s), the rule decides",
            )
        if outcome.by == "rule" and "AI unavailable" in outcome.why:
            self.resting_until = now() + REST_AFTER_FAILURE
        return outcome

    def _apply(
        self, group: list[AwaitingDelivery], outcome: TriageOutcome, at: datetime,
        report: TriageReport,
    ) -> None:
        first = group[0]
        triaged: dict[str, Any] = {
            "route": outcome.route, "by": outcome.by, "why": self.scrubber(outcome.why),
            "model": outcome.model, "prompt_version": outcome.prompt_version,
            "score": None if outcome.score is None else outcome.score.overall,
            "confidence": None if outcome.score is None else outcome.score.confidence,
        }
        detail = {**first.decision, "triaged": triaged}
        digest = first.decision.get("digest")
        with write_transaction(self.db):
            if outcome.route == "digest" and isinstance(digest, str):
                moved = {**detail, "action": "digest"}
                if ai_cache.to_digest(first, digest, moved, at):
                    report.digested += 1
                    return
                triaged.update(route="notify", why=f"{triaged['why']}; a send had begun, so "
                               "the alert stays notified")
            ai_cache.record_triage(int(first.event.id), detail)
            if not self.leave_held:
                ai_cache.release(group, at)
        if outcome.by == "rule":
            report.fallback += 1
            log.warning("AI triage of %s: %s", first.event.fingerprint[:12], triaged["why"])
        else:
            report.instant += 1
