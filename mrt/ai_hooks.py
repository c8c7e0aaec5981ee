"""Where the AI enhancements meet the store and the messages: AI1 summaries after ingest.

    step = SummaryStep(config, client, renderer, targets, db, scrubber)
    step.hold_new(now)                  right before a sender claims (quick)
    report = await step.run(now)        between a cycle's commit and the sends (slow)

A cycle commits its alerts with the plain text, as it always does: nothing of AI is on the commit
path. This step then takes the first tries of new single-event alerts that no sender has
claimed, holds each at most `ai.summary_wait_seconds` after its creation, and for each event:
- takes its summary from the cache (event fingerprint, model, prompt version) or asks the model,
  within what is left of the wait;
- renders the row's message again, for its channel, from the stored event with the summary
  where the upstream body was and the stored decision (the same template, the same cleaning);
- or, with no summary (endpoint down, slow, over our per-minute budget, an answer out of its
  schema), makes the row due at once with its plain text. A summary that comes after a sender
  took the row changes nothing: a row is only rewritten while it is pending, untried, unleased.
Up to CONCURRENCY events are asked at once.
The first endpoint failure ends the asking for a minute (REST_AFTER_FAILURE: what is waiting
and what comes meanwhile goes out plain, on time, without being held), and tells the operators "AI degraded" once per degradation (the state is in the
database, so once across runs and workers); a later success clears it.

It lives at the pipeline's level of the layers: mrt.ai knows no store, the store no model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.ai.client import AiClient
from mrt.ai.summaries import PROMPT_VERSION, summarise
from mrt.alerting import Renderer, ops_notice
from mrt.config import Config
from mrt.delivery.base import Target
from mrt.errors import AiError, AiOverBudget, AiUnavailable, TemplateError
from mrt.events import AI_SUMMARY, TrackerEvent
from mrt.http import redact_url
from mrt.message import Message
from mrt.rules import Decision, RuleMatch
from mrt.secrets import Scrubber
from mrt.store import ai_cache
from mrt.store.ai_cache import AwaitingDelivery
from mrt.store.db import write_transaction
from mrt.store.history import tracker_event

log = logging.getLogger("mrt.ai")

CAPABILITY = "summary"
# After the endpoint failed, new alerts go out plain without asking it for this long: a down
# endpoint costs each alert nothing, and is tried again soon after.
REST_AFTER_FAILURE = timedelta(seconds=60)
CONCURRENCY = 8  # summaries asked at once (each alert is one request; the budget still holds)
Targets = Mapping[str, Sequence[Target]]


@dataclass
class SummaryReport:
    summarised: int = 0  # rows that go out with a summary
    plain: int = 0  # rows released with their plain text
    cache_hits: int = 0
    degraded: str | None = None  # why the endpoint could not help, when it could not
    over_budget: bool = False  # ai.requests_per_minute was spent: the rest went plain
    notified: bool = False  # the operators' "AI degraded" notice was written now


def decision_of(detail: Mapping[str, Any]) -> Decision:
    """The Decision an event's stored detail (Decision.as_json()) was made from."""
    return Decision(
        action=str(detail.get("action") or "notify"),
        channels=tuple(detail.get("channels") or ()),
        priority=str(detail.get("priority") or "normal"),
        tags=tuple(detail.get("tags") or ()),
        matched=tuple(
            RuleMatch(str(m["rule"]), tuple(m.get("reasons") or ()))
            for m in detail.get("matched") or ()
        ),
        template=detail.get("template") or None,
        group_key=detail.get("group_key") or None,
    )


def with_summary(event: TrackerEvent, text: str, model: str) -> TrackerEvent:
    """The event as its message shows it: the summary beside the title (chat) or where the
    upstream body was (email), signed: a reader must know a model wrote these lines."""
    return replace(event, details={**event.details, AI_SUMMARY: f"{text}\n(summary by {model})"})


@dataclass
class SummaryStep:
    config: Config
    client: AiClient
    renderer: Renderer
    targets: Callable[[], Targets]
    db: peewee.Database
    scrubber: Scrubber
    done: set[int] = field(default_factory=set)  # rows this worker finished with
    resting_until: datetime | None = None  # after an endpoint failure: not asked, nothing held

    @property
    def wait(self) -> timedelta:
        return timedelta(seconds=self.config.ai.summary_wait_seconds)

    def hold_new(self, at: datetime) -> list[AwaitingDelivery]:
        """The first tries waiting for a summary, each held at most the bound after its
        creation (quick: a sender calls it right before each claim)."""
        if self.resting_until is not None and at < self.resting_until:
            return []
        awaiting = [  # a triage rule's alert first gets its route (mrt.ai_triage)
            r for r in ai_cache.awaiting_summary(at - self.wait)
            if not ai_cache.triage_pending(r.decision)
        ]
        # a finished row that is no longer waiting (sent, or past the bound) is forgotten
        self.done.intersection_update(r.outbox_id for r in awaiting)
        rows = [r for r in awaiting if r.outbox_id not in self.done]
        unheld = [r for r in rows if r.next_attempt_at < r.created_at + self.wait]
        if unheld:  # a write only when there is something to hold: this runs before each claim
            with write_transaction(self.db):
                for created in {r.created_at for r in unheld}:
                    ai_cache.hold(
                        [r for r in unheld if r.created_at == created], created + self.wait
                    )
        return rows

    async def run(self, now: Callable[[], datetime]) -> SummaryReport:
        report = SummaryReport()
        rows = self.hold_new(now())
        if not rows:
            return report
        groups: dict[int, list[AwaitingDelivery]] = {}
        for row in rows:
            groups.setdefault(int(row.event.id), []).append(row)
        asking = asyncio.Semaphore(CONCURRENCY)

        async def one(group: list[AwaitingDelivery]) -> None:
            async with asking:
                if report.degraded is not None or report.over_budget:
                    self._release(group, now(), report)
                    return
                text = await self._summary(group, now, report)
                if text is None:
                    self._release(group, now(), report)
                else:
                    self._rewrite(group, text, now(), report)

        try:
            await asyncio.gather(*(one(group) for group in groups.values()))
        finally:  # whatever went wrong here, a held row goes out now with its plain text
            left = [r for r in rows if r.outbox_id not in self.done]
            if left:
                self._release(left, now(), report)
        self._health(report, now())
        return report

    async def _summary(
        self, group: list[AwaitingDelivery], now: Callable[[], datetime], report: SummaryReport
    ) -> str | None:
        event = tracker_event(group[0].event)
        model = self.client.settings.chat_model
        text = ai_cache.cached(event.fingerprint, CAPABILITY, model, PROMPT_VERSION)
        if text is not None:
            report.cache_hits += 1
            self.client.usage.cache_hit(CAPABILITY)
            return text
        left = (min(r.created_at for r in group) + self.wait - now()).total_seconds()
        try:
            if left <= 0:
                raise TimeoutError
            text = await asyncio.wait_for(
                summarise(self.client, event, scrubber=self.scrubber,
                          max_input_chars=self.config.ai.max_input_chars),
                timeout=left,
            )
        except TimeoutError:
            self.client.usage.fallback(CAPABILITY)
            log.warning("AI summary of %s not ready within ai.summary_wait_seconds (%d s): "
                        "sent with its plain text", event.fingerprint[:12],
                        self.config.ai.summary_wait_seconds)
            return None
        except AiOverBudget as exc:  # ours, not the endpoint's: no degradation, no notice
            self.client.usage.fallback(CAPABILITY)
            if not report.over_budget:
                log.warning("%s: alerts go out with their plain text until it refills",
                            self.scrubber(str(exc)))
            report.over_budget = True
            return None
        except AiError as exc:
            self.client.usage.fallback(CAPABILITY)
            why = self.scrubber(str(exc))
            log.warning("AI summary of %s failed: %s; sent with its plain text",
                        event.fingerprint[:12], why)
            if isinstance(exc, AiUnavailable):
                report.degraded = why
                self.resting_until = now() + REST_AFTER_FAILURE
            return None
        with write_transaction(self.db):
            ai_cache.remember(event.fingerprint, CAPABILITY, model, PROMPT_VERSION, text, now())
        return text

    def _rewrite(
        self, group: list[AwaitingDelivery], text: str, at: datetime, report: SummaryReport
    ) -> None:
        event = with_summary(tracker_event(group[0].event), text, self.client.settings.chat_model)
        with write_transaction(self.db):
            for row in group:
                try:
                    message = self.renderer.message(row.channel, [event], decision_of(row.decision))
                except TemplateError as exc:
                    log.error("AI summary not rendered for channel %s: %s", row.channel, exc)
                    ai_cache.release([row], at)
                    report.plain += 1
                    continue
                if ai_cache.rewrite(row, message.subject, message.body, at):
                    report.summarised += 1
        self.done.update(r.outbox_id for r in group)

    def _release(self, group: list[AwaitingDelivery], at: datetime, report: SummaryReport) -> None:
        with write_transaction(self.db):
            ai_cache.release(group, at)
        report.plain += len(group)
        self.done.update(r.outbox_id for r in group)

    def _health(self, report: SummaryReport, at: datetime) -> None:
        if report.degraded is None:
            if report.summarised or report.cache_hits:
                with write_transaction(self.db):
                    if ai_cache.mark_healthy(at):
                        log.info("AI endpoint answers again: summaries are back")
            return
        subject = "MRT AI degraded"
        title = f"{subject}: alerts go out with their plain text until the endpoint answers"
        body = (
            f"{title}.\nEndpoint {redact_url(self.client.settings.base_url)}, model "
            f"{self.client.settings.chat_model}: {report.degraded}\n"
            "Nothing is lost or delayed past ai.summary_wait_seconds. This notice is sent once "
            "per degradation."
        )
        with write_transaction(self.db):
            if ai_cache.mark_degraded(report.degraded, at):
                ops_notice(
                    self.config, self.targets(), Message(subject=subject, body=body),
                    title=title, kind="ai_health", tags=("ai",), priority="normal", now=at,
                )
                report.notified = True
