"""Messages the console's thread workers post back to the UI thread (small dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # annotations only: importing mrt.replay here put apprise on the start-up path
    from mrt.replay import ReplayPlan
    from mrt.rules.dryrun import RulesTestReport
    from mrt.store.views import (
        AlertDetail,
        AlertRow,
        AttemptView,
        ConsoleStatus,
        MetricsReport,
        OutboxPosition,
        OutboxRow,
        SourceRow,
    )


@dataclass
class DatabaseChecked(Message):
    """What the console found at its database target: ready, missing or unmigrated."""

    state: str  # ready | missing | unmigrated | error
    detail: str = ""


@dataclass
class StatusLoaded(Message):
    status: ConsoleStatus


@dataclass
class QueryTimed(Message):
    """A query finished; slow ones raise the banner, fast ones lower it."""

    label: str
    seconds: float
    error: str | None = None


@dataclass
class AlertsLoaded(Message):
    rows: list[AlertRow]
    replace: bool  # a first page (replaces the table) or the next page (appended)
    generation: int  # the filter generation it was asked for; stale answers are dropped


@dataclass
class NewerAlerts(Message):
    rows: list[AlertRow]
    total: int
    generation: int
    on_screen: list[AlertRow] = field(default_factory=list)  # the rows shown, read again


@dataclass
class DetailLoaded(Message):
    alert_id: int
    detail: AlertDetail | None


@dataclass
class OutboxLoaded(Message):
    rows: list[OutboxRow]
    next_position: OutboxPosition | None
    replace: bool
    counts: dict[str, int] = field(default_factory=dict)
    generation: int = -1  # -1: only the counts are fresh (the rows were not re-read)
    in_place: bool = False  # `rows` are the rows on screen read again: update them where they are


@dataclass
class AttemptsLoaded(Message):
    """Every attempt of one delivery, for the deliveries screen's detail."""

    outbox_id: int
    attempts: list[AttemptView]
    seen_attempts: int  # the row's attempt count when asked: a change asks again


@dataclass
class SourcesLoaded(Message):
    rows: list[SourceRow]


@dataclass
class MetricsLoaded(Message):
    day: MetricsReport
    week: MetricsReport | None  # None: the day is shown first, the week follows


@dataclass
class ActionFinished(Message):
    """A write finished (or failed); the screen says so and reloads what it changed."""

    action: str
    text: str
    ok: bool = True


@dataclass
class ReplayPlanned(Message):
    plan: ReplayPlan | None
    error: str  # why there is no plan (a bad date, an unknown rule, no config)


@dataclass
class RulesTested(Message):
    report: RulesTestReport | None
    error: str
