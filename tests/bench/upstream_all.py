"""The upstream row for one of each source: requests and response bytes of a cycle in which
nothing changed, against the naive pattern, on the same loopback fakes.

The sources and their fakes are the conformance declarations (tests/source_conformance.py):
GitHub issues/PRs, releases and tags, Hugging Face, ModelScope, PyPI, npm, a feed, arXiv, OSV,
GitHub advisories, a Docker Hub image, a distribution-API registry image (401 token flow) and
GitLab issues, merge requests, releases and tags, each fake serving its recorded payloads on one
server. modeldir is not here: it reads a local directory, no upstream (its conformance checks
are tests/test_source_conformance_local.py). Ours: each
source's `poll` on one HttpPool, carrying its cursor, validators and snapshots from cycle to
cycle as the runner does; the third cycle (baseline, first steady, unchanged) is measured. The
naive pattern: the same polls with nothing carried (no cursor, no validators, no snapshots), so
every cycle fetches in full without a conditional header. Counts, not timings.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.bench.common import upstream_server


async def _cycles(server: Any, carry: bool, cycles: int) -> tuple[int, int]:
    """(requests, response body bytes) of the last of `cycles` cycles over every source."""
    from source_conformance import CASES
    from test_source_support import FakeClock, SourceState, make_pool, poll_once

    polls = []
    for case in CASES:
        specs = case.module.instances(case.plugin, case.section(server), None)
        polls.append((case, next(s for s in specs if case.key in (None, s.key))))
    states = {case.name: SourceState() for case, _ in polls}
    mark = 0
    async with make_pool(FakeClock()) as pool:
        for _ in range(cycles):
            if not carry:
                states = {case.name: SourceState() for case, _ in polls}
            mark = len(server.log)
            for case, spec in polls:
                await poll_once(case.module, spec, pool, states[case.name], env=case.env)
    answered = server.log[mark:]
    return len(answered), sum(len(response.get_data()) for _, response in answered)


def measure() -> tuple[tuple[int, int], tuple[int, int], int]:
    """(ours unchanged, naive, number of sources), each (requests, bytes) of one cycle."""
    from source_conformance import CASES

    with upstream_server() as server:
        for case in CASES:
            case.serve(server)
        ours = asyncio.run(_cycles(server, carry=True, cycles=3))
        naive = asyncio.run(_cycles(server, carry=False, cycles=1))
    return ours, naive, len(CASES)


if __name__ == "__main__":
    (requests, bytes_), (naive_requests, naive_bytes), count = measure()
    print(f"{count} source instances, nothing changed: {requests} requests, {bytes_} bytes a cycle; "
          f"naive: {naive_requests} requests, {naive_bytes} bytes "
          f"(ratio {requests / naive_requests:.2f}, {bytes_ / naive_bytes:.3f})")
