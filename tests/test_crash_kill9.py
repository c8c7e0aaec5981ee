"""Issue 4's crash test: the real worker, SIGKILLed at seeded random instants, loses nothing.

The worker runs as a subprocess (`python -m worker --daemon`) against a loopback GitHub that
keeps changing and misbehaving and two flaky webhook targets (tests/soak/). After each SIGKILL
the harness reaps the process, notes the outbox rows the dead worker left `sending` (its sends
in flight) and runs PRAGMA integrity_check; then it restarts the worker. At the end the changes
stop, a clean worker drains the outbox, and the sink's durable record is compared with the
changes the upstream made: every matching event at every target at least once, and a message
accepted twice only where a send of it was in flight at a kill.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from soak.harness import SoakReport, SoakSettings, run_soak
from soak.run import table
from soak.sink import TARGETS


def assert_nothing_lost(report: SoakReport, kills: int) -> None:
    d = report.deliveries
    assert len(report.kills) == kills
    assert report.integrity == ["ok"] * (kills + 2), report.integrity  # each kill, both stops
    assert report.half_written == []  # each cycle's transaction is all or nothing
    assert report.drained, f"outbox did not drain: {report.outbox}"
    assert d.expected_events >= 20, "the upstream made too few matching changes to judge"
    assert d.lost == [], f"lost deliveries: {d.lost[:10]}"
    assert set(d.delivered_per_target) == set(TARGETS)
    assert d.unexplained == [], f"duplicates no kill explains: {d.unexplained[:3]}"
    assert d.duplicates == d.duplicates_explained <= d.abandoned_claims
    # every send abandoned at a kill was taken back after its lease and recorded as such
    assert report.attempts.get("lease_expired", 0) == d.abandoned_claims
    assert d.unexpected == [], f"alerts for changes that do not match: {d.unexpected[:5]}"
    assert d.sent_without_delivery == []
    assert report.alerts == d.expected_events  # one alert per matching event, none twice
    assert report.outbox.get("dead", 0) == 0
    assert set(report.outbox) <= {"sent"}
    assert report.unexpected_exits == []
    assert report.final_exit_code == 0
    assert report.left_sending_after_sigterm == 0 or report.restart_exit_code != 0


def test_fifty_sigkills_lose_no_alert(tmp_path: Path) -> None:
    report = run_soak(SoakSettings(workdir=tmp_path, seed=4, kills=50, kill_delay=(0.5, 4.0)))
    print(table(report))  # shown by pytest -s, and with any failure
    assert_nothing_lost(report, 50)


@pytest.mark.slow
def test_three_hundred_sigkills_lose_no_alert(tmp_path: Path) -> None:
    report = run_soak(SoakSettings(workdir=tmp_path, seed=5, kills=300, kill_delay=(0.3, 5.0)))
    print(table(report))
    assert_nothing_lost(report, 300)
