"""Soak or crash-loop the real worker and print the report as a table and as JSON.

    .venv/bin/python tests/soak/run.py --minutes 30            # soak: kills in the first half
    .venv/bin/python tests/soak/run.py --crash --kills 200     # crash loop: kill after kill
    .venv/bin/python tests/soak/run.py --minutes 2 --lock-seconds 30 --disk-full-seconds 30
                                        # + the database locked, then its disk full (root)

Exit code 0 when nothing was lost, duplicates are all explained by sends in flight at a kill,
every integrity check said "ok", the outbox drained and memory stayed flat; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: soak, test_source_support

from soak.harness import SoakReport, SoakSettings, run_soak


def settings_from_args(argv: list[str] | None = None) -> SoakSettings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long upstream changes")
    parser.add_argument("--crash", action="store_true",
                        help="crash loop: --kills SIGKILLs back to back (0.5-4 s apart)")
    parser.add_argument("--kills", type=int, default=None,
                        help="crash: how many (default 50); soak: at most this many in the "
                        "first half (0: none, one long-lived worker)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes-per-second", type=float, default=2.0)
    parser.add_argument("--no-faults", action="store_true", help="upstream and sink behave")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--lock-seconds", type=float, default=0.0,
                        help="after the kills: another process holds the write lock this long")
    parser.add_argument("--disk-full-seconds", type=float, default=0.0,
                        help="then the database's disk (a tmpfs; root only) is full this long")
    parser.add_argument("--busy-timeout-ms", type=int, default=None,
                        help="the worker's SQLite busy timeout (default: the product's)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mrt-soak-"))
    settings = SoakSettings(workdir=workdir, seed=args.seed,
                            changes_per_second=args.changes_per_second,
                            lock_seconds=args.lock_seconds,
                            disk_full_seconds=args.disk_full_seconds,
                            busy_timeout_ms=args.busy_timeout_ms)
    if args.crash:
        settings.kills = args.kills if args.kills is not None else 50
    else:
        # kills at random instants in the first half, then a kill-free half for memory
        seconds = args.minutes * 60
        settings.duration_seconds = seconds
        settings.kill_phase_seconds = seconds / 2
        settings.kills = args.kills if args.kills is not None else 10_000
        settings.kill_delay = (min(10.0, seconds / 8), min(60.0, seconds / 4))
        settings.memory_warmup_seconds = min(60.0, seconds / 8)
    if args.no_faults:
        for faults in (settings.upstream_faults, settings.sink_faults):
            for name in list(faults.__dict__):
                if name.startswith("rate_"):
                    setattr(faults, name, 0.0)
    return settings


def failures(report: SoakReport) -> list[str]:
    """Every broken promise, in words (empty: the run passed)."""
    d, found = report.deliveries, []
    if d.lost:
        found.append(f"{len(d.lost)} expected deliveries lost, e.g. {d.lost[:5]}")
    if d.unexplained:
        found.append(f"{len(d.unexplained)} duplicates not explained by a kill: "
                     f"{d.unexplained[:3]}")
    if d.unexpected:
        found.append(f"{len(d.unexpected)} deliveries of events nobody expected: "
                     f"{d.unexpected[:5]}")
    if d.sent_without_delivery:
        found.append(f"outbox rows marked sent that the sink never accepted: "
                     f"{d.sent_without_delivery[:10]}")
    if not report.integrity_ok:
        found.append(f"integrity_check failed: {[r for r in report.integrity if r != 'ok'][:3]}")
    if report.half_written:
        found.append(f"half-written cycles after a kill: {report.half_written[:5]}")
    if not report.drained:
        found.append(f"the outbox did not drain: {report.outbox}")
    if report.outbox.get("dead"):
        found.append(f"{report.outbox['dead']} outbox rows are dead")
    for phase in report.db_phases:
        if not phase.get("alive", True):
            found.append(f"the worker did not stay alive through the {phase['phase']} phase")
    if report.unexpected_exits:
        found.append(f"the worker exited on its own: {report.unexpected_exits[:5]}")
    if report.final_exit_code != 0:
        found.append(f"the clean stop exited {report.final_exit_code}")
    if not report.memory.ok:
        found.append(f"memory not flat: {report.memory.as_dict()}")
    return found


def table(report: SoakReport) -> str:
    d, m = report.deliveries, report.memory
    rows = [
        ("duration", f"{report.seconds} s"),
        ("upstream changes", ", ".join(f"{k} {v}" for k, v in sorted(report.changes.items()))),
        ("upstream requests (faults)", f"{report.upstream_requests} "
         f"({', '.join(f'{k} {v}' for k, v in sorted(report.upstream_faults.items()))})"),
        ("expected matching events", d.expected_events),
        ("events observed / alerts", f"{report.events_observed} / {report.alerts}"),
        ("deliveries per target", ", ".join(f"{k} {v}" for k, v in d.delivered_per_target.items())),
        ("sink answers", ", ".join(f"{k} {v}" for k, v in sorted(report.sink_faults.items()))),
        ("event / ops-notice deliveries", f"{d.event_deliveries} / {d.ops_deliveries}"),
        ("lost", len(d.lost)),
        ("duplicates (explained)", f"{d.duplicates} ({d.duplicates_explained})"),
        ("alerts sent folded into another's message", str(report.folded_rows)),
        ("abandoned claims at kills (lease_expired attempts)",
         f"{d.abandoned_claims} ({report.attempts.get('lease_expired', 0)})"),
        ("kills (with sends in flight)",
         f"{len(report.kills)} ({report.kills_with_sends_in_flight})"),
        ("integrity checks", f"{len(report.integrity)}, all ok: {report.integrity_ok}"),
        ("half-written cycles found after kills", len(report.half_written)),
        ("outbox at end", ", ".join(f"{k} {v}" for k, v in sorted(report.outbox.items()))),
        ("attempts", ", ".join(f"{k} {v}" for k, v in sorted(report.attempts.items()))),
        (f"RSS MB median/last/max (inc. {m.incarnation})",
         f"{m.rss_median_mb} / {m.rss_last_mb} / {m.rss_max_mb} (max x{m.rss_ratio} of "
         f"the early {m.rss_baseline_mb}, "
         f"{m.rss_slope_mb_per_hour} MB/h over {m.span_seconds} s)"),
        ("open fds median/last/max", f"{m.fds_median} / {m.fds_last} / {m.fds_max}"),
        ("database phases", "; ".join(
            f"{p['phase']} " + (f"skipped ({p['skipped']})" if "skipped" in p
                                else f"{p['seconds']} s, worker alive: {p['alive']}")
            for p in report.db_phases) or "none"),
        ("unexpected worker exits", len(report.unexpected_exits)),
        ("exit codes: SIGTERM before drain / final",
         f"{report.restart_exit_code} / {report.final_exit_code}"),
    ]
    width = max(len(str(k)) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    settings = settings_from_args(argv)
    print(f"workdir: {settings.workdir}", flush=True)
    report = run_soak(settings)
    print(table(report))
    print(json.dumps(report.as_dict(), indent=2, default=str))
    problems = failures(report)
    for problem in problems:
        print(f"FAILED: {problem}")
    print("PASSED" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
