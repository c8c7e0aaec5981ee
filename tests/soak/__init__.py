"""Soak and crash harness: the real `mrt-worker` process against misbehaving loopback fakes.

    servers.py   a threaded loopback HTTP server with socket-level faults (stall, reset)
    upstream.py  a fake GitHub (tests/test_source_support.FakeGitHub) that changes over time and
                 fails at a set rate; it records every change that must become an alert
    sink.py      a JSON webhook sink that fails at a set rate and records every accepted delivery
                 to a file before it answers 200
    worker.py    the worker subprocess: config, start, SIGKILL, clean stop, RSS/fd samples,
                 PRAGMA integrity_check
    oracle.py    what was expected against what was delivered: lost, duplicates, explained
    dbphases.py  the database locked by another process, then its disk full (issue 19)
    harness.py   run_soak(settings) -> SoakReport, used by run.py and the CI tests

Only 127.0.0.1 is ever contacted. Every wait is bounded and polls a condition.
"""
