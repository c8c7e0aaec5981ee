"""What should have arrived against what did: lost, duplicates and whether a crash explains them.

Lost: an expected matching upstream event (recorded by the change driver) with no accepted
delivery at some target. Duplicates: a (target, message) accepted more often than the outbox
holds rows for it. A duplicate is explained only by a claim abandoned at a kill: a row found
`sending` (leased by the worker just killed) right after a SIGKILL. Each distinct (row, lease
owner) is one send that may have reached the sink without being marked sent; the rows of one
(target, message) may be delivered at most (rows + abandoned claims) times.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from soak.process import Sample
from soak.sink import TARGETS, Delivery
from soak.upstream import EventKey


@dataclass(frozen=True)
class OutboxFact:
    """One outbox row as the oracle needs it (target is the sink's path name: a | b)."""

    id: int
    target: str
    body: str
    status: str
    event_key: EventKey | None
    title: str = ""  # the alert's title: how a folded message lists an operators' notice


@dataclass
class DeliveryVerdict:
    expected_events: int
    delivered_per_target: dict[str, int]
    event_deliveries: int
    ops_deliveries: int
    lost: list[tuple[EventKey, str]] = field(default_factory=list)
    unexpected: list[tuple[EventKey, str]] = field(default_factory=list)
    duplicates: int = 0
    duplicates_explained: int = 0
    unexplained: list[dict[str, Any]] = field(default_factory=list)
    abandoned_claims: int = 0
    sent_without_delivery: list[int] = field(default_factory=list)


def judge_deliveries(
    expected: Iterable[EventKey],
    deliveries: list[Delivery],
    rows: list[OutboxFact],
    abandoned: Mapping[int, int],
) -> DeliveryVerdict:
    """`abandoned`: outbox id -> distinct claims found in flight at a kill."""
    expected = set(expected)
    per_target = Counter(d.target for d in deliveries)
    by_event = Counter((d.key, d.target) for d in deliveries if d.key is not None)
    verdict = DeliveryVerdict(
        expected_events=len(expected),
        delivered_per_target={t: per_target.get(t, 0) for t in TARGETS},
        event_deliveries=sum(by_event.values()),
        ops_deliveries=sum(1 for d in deliveries if d.key is None),
        abandoned_claims=sum(abandoned.values()),
    )
    verdict.lost = sorted((key, t) for key in expected for t in TARGETS if not by_event[(key, t)])
    verdict.unexpected = sorted({(k, t) for (k, t) in by_event if k not in expected})

    # an alert listed in a folded message stands for its own row's message
    body_of = {(r.target, r.event_key): r.body for r in rows if r.event_key is not None}
    notices = [r for r in rows if r.event_key is None and r.title]

    def message_of(d: Delivery) -> str:
        if not d.folded:
            return d.message
        if d.key is not None:
            return body_of.get((d.target, d.key), d.message)
        found = [r.body for r in notices if r.target == d.target and r.title[:60] in d.message]
        return found[0] if len(set(found)) == 1 else d.message

    accepted = Counter((d.target, message_of(d).strip()) for d in deliveries)
    rows_by_message: dict[tuple[str, str], list[OutboxFact]] = {}
    for row in rows:
        rows_by_message.setdefault((row.target, row.body.strip()), []).append(row)
    for (target, message), count in sorted(accepted.items()):
        matching = rows_by_message.get((target, message), [])
        extra = count - len(matching) if matching else count
        if extra <= 0:
            continue
        verdict.duplicates += extra
        allowed = sum(abandoned.get(r.id, 0) for r in matching)
        if matching and extra <= allowed:
            verdict.duplicates_explained += extra
        else:
            verdict.unexplained.append({
                "target": target, "accepted": count, "outbox_rows": [r.id for r in matching],
                "abandoned_claims": allowed, "message": message[:200],
            })
    for row in rows:
        if row.status == "sent" and not accepted[(row.target, row.body.strip())]:
            verdict.sent_without_delivery.append(row.id)
    return verdict


FD_SLACK = 10


@dataclass
class MemoryVerdict:
    """Flat memory: in the longest-lived worker incarnation, after a warm-up, the last and the
    highest RSS samples are within `limit` x the median of the first quarter of the settled
    samples (the baseline); open fds stay within `limit` x their baseline + FD_SLACK (each
    concurrent send and poll holds a socket or two for a moment, on a baseline of ~20).

    Why: the worker's RSS settles within its first seconds (imports, Apprise on the first
    send, SQLite's page cache) and then wanders by a few MB with garbage collection; a leak is
    a steady climb. The baseline is the EARLY median on purpose: the median of the whole window
    climbs with a leak and hides it (a linear climb to 3x its start ends only 1.5x above its own
    median). The least-squares slope (MB per hour) is reported to see smaller leaks by eye.
    """

    ok: bool
    incarnation: int | None
    samples: int
    rss_median_mb: float
    rss_baseline_mb: float
    rss_last_mb: float
    rss_max_mb: float
    rss_ratio: float
    rss_slope_mb_per_hour: float
    fds_median: float
    fds_last: int
    fds_max: int
    span_seconds: float
    per_incarnation: list[dict[str, Any]]
    limit: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def judge_memory(samples: list[Sample], *, warmup_seconds: float,
                 limit: float = 1.5) -> MemoryVerdict:
    groups: dict[int, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.incarnation, []).append(s)
    per = []
    for inc, group in sorted(groups.items()):
        per.append({"incarnation": inc, "samples": len(group),
                    "span_seconds": round(group[-1].at - group[0].at, 1),
                    "rss_max_mb": round(max(s.rss_kb for s in group) / 1024, 1),
                    "fds_max": max(s.fds for s in group)})
    if not groups:
        return MemoryVerdict(False, None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, per, limit)
    inc, group = max(groups.items(), key=lambda kv: kv[1][-1].at - kv[1][0].at)
    start = group[0].at
    settled = [s for s in group if s.at - start >= warmup_seconds] or group[-1:]
    rss = [s.rss_kb / 1024 for s in settled]
    fds = [s.fds for s in settled]
    early = max(1, len(settled) // 4)
    rss_base, fds_base = statistics.median(rss[:early]), statistics.median(fds[:early])
    ratio = max(rss) / rss_base if rss_base else 0.0
    ok = ratio <= limit and max(fds) <= limit * fds_base + FD_SLACK
    return MemoryVerdict(
        ok=ok, incarnation=inc, samples=len(settled),
        rss_median_mb=round(statistics.median(rss), 1), rss_baseline_mb=round(rss_base, 1),
        rss_last_mb=round(rss[-1], 1), rss_max_mb=round(max(rss), 1), rss_ratio=round(ratio, 3),
        rss_slope_mb_per_hour=round(_slope([s.at for s in settled], rss) * 3600, 2),
        fds_median=statistics.median(fds), fds_last=fds[-1], fds_max=max(fds),
        span_seconds=round(settled[-1].at - settled[0].at, 1), per_incarnation=per, limit=limit,
    )


def _slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
