"""Issue 7's CI soak: two minutes of changes and faults, a few SIGKILLs, then a kill-free minute.

The same harness as the long run (`tests/soak/run.py --minutes 30`): the real worker against a
changing, misbehaving loopback GitHub and two flaky webhook targets. Asserts nothing lost,
integrity "ok" after every kill and stop, and flat memory: in the longest-lived worker
incarnation, after a warm-up of 15 s, the last RSS sample is within 1.5x the median of that
incarnation's samples, and the open fds too (oracle.MemoryVerdict says why).
"""

from __future__ import annotations

from pathlib import Path

from soak.harness import SoakSettings, run_soak
from soak.run import table


def test_two_minute_soak_with_faults_and_kills(tmp_path: Path) -> None:
    report = run_soak(SoakSettings(
        workdir=tmp_path, seed=11, duration_seconds=120, kill_phase_seconds=60, kills=6,
        kill_delay=(5.0, 15.0), memory_warmup_seconds=15,
    ))
    print(table(report))  # shown by pytest -s, and with any failure
    d, m = report.deliveries, report.memory
    assert sum(report.upstream_faults.values()) > report.upstream_faults.get("ok", 0)
    assert sum(report.sink_faults.values()) > report.sink_faults.get("ok", 0)
    assert len(report.kills) >= 3
    assert report.integrity_ok and len(report.integrity) == len(report.kills) + 2
    assert report.half_written == []
    assert report.drained, f"outbox did not drain: {report.outbox}"
    assert d.expected_events >= 50
    assert d.lost == [], f"lost deliveries: {d.lost[:10]}"
    assert d.unexplained == [] and d.unexpected == [] and d.sent_without_delivery == []
    assert report.outbox.get("dead", 0) == 0
    assert report.unexpected_exits == [] and report.final_exit_code == 0
    assert m.span_seconds >= 30, m.per_incarnation  # the kill-free minute was sampled
    assert m.ok, m.as_dict()
