"""A sender's runs: the rows of a target leased in one claim, still to send, in order.

A claim may lease a target's next few due rows at once (mrt/store/outbox_claim.py). The sender
sends the first now and each next one only once the one before is recorded as sent, so a crash
leaves at most one row of a run possibly sent (the one taken back counts a try; the rest go
back untried). A run stops, and its rest is given back to waiting, when a send of it fails
(the target is down, or throttles: its budget decides when to go on), when its last send was
not recorded (its lease lost), when the sender is stopping, or when the next row's lease could
run out during its send.
"""

from __future__ import annotations

from collections.abc import Iterable, KeysView
from datetime import datetime, timedelta

from mrt.delivery.send_report import DeliveryResult, Finished
from mrt.store.outbox_records import ClaimedDelivery


class Runs:
    def __init__(self) -> None:
        self._rows: dict[str, list[ClaimedDelivery]] = {}  # target -> rows after the one sent

    def targets(self) -> KeysView[str]:
        return self._rows.keys()

    def start(self, claimed: Iterable[ClaimedDelivery]) -> list[ClaimedDelivery]:
        """The first row of each target's claimed rows (in id order), to send now; the others
        wait here for it to be recorded."""
        by_target: dict[str, list[ClaimedDelivery]] = {}
        for row in claimed:
            by_target.setdefault(row.target, []).append(row)
        firsts = []
        for target, rows in by_target.items():
            rows.sort(key=lambda r: r.id)
            firsts.append(rows[0])
            if len(rows) > 1:
                self._rows[target] = rows[1:]
        return firsts

    def stop_failed(self, finished: Iterable[Finished], stopping: bool) -> list[int]:
        """The rows to give back of the runs whose send did not go out (all when stopping)."""
        return [
            row.id for f in finished if stopping or not f.outcome.ok
            for row in self._rows.pop(f.row.target, [])
        ]

    def next_rows(
        self, results: Iterable[DeliveryResult], now: datetime, send_timeout: float,
        stopping: bool,
    ) -> tuple[list[ClaimedDelivery], list[int]]:
        """After the marks of `results` are recorded: (the next row of each run to send now,
        the rows to give back)."""
        margin = timedelta(seconds=send_timeout)
        starting: list[ClaimedDelivery] = []
        back: list[int] = []
        for result in results:
            run = self._rows.pop(result.target, None)
            if not run:
                continue
            if result.status != "sent" or stopping or now + margin >= run[0].lease_expires_at:
                back += [row.id for row in run]
                continue
            if len(run) > 1:
                self._rows[result.target] = run[1:]
            starting.append(run[0])
        return starting, back

    def give_up(self) -> list[int]:
        """Every row still waiting in a run (the drain ends: they go back)."""
        ids = [row.id for run in self._rows.values() for row in run]
        self._rows.clear()
        return ids
