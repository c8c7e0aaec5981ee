"""Footprint: resident memory after a long accelerated run, start-up time, import time.

    memory    footprint_child.py (its own process): 50 sources on loopback fakes, Scheduler.tick
              and Sender.run_once driven by a clock one poll interval ahead per tick, upstream
              items changing every tick; VmRSS from /proc/self/status, against a bare interpreter;
              on a database another process migrated first, and again (the "first install"
              row) on one the child creates and migrates itself
    start-up  `mrt-worker --once` with a config on a loopback fake GitHub: spawn to the first
              request the fake receives, against `python -c "import httpx; httpx.get(URL)"`;
              MRT's packages byte-compiled first, as an install is (httpx's are)
    import    `python -c "import worker.main"` (what mrt-worker loads) against `python -c pass`;
              and whether that import pulls in Apprise and Textual (it must not pull Textual)
"""

from __future__ import annotations

import compileall
import copy
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.bench.common import (
    ROOT,
    Row,
    Sizes,
    best_of,
    child_env,
    command_for,
    running_sink,
    upstream_server,
)

BENCH = "footprint"
FIGURES = ("RSS after long run", "RSS after long run, first install", "RSS growth", "start-up to first request", "import worker")


def _fakes_with_changes(server: Any, seed: int = 11) -> None:
    """30 GitHub repos, 10 Hugging Face orgs, 10 ModelScope orgs, and /_bench/advance?at=ISO,
    which changes a few of them at that instant (closes, reopens, retitles, new model shas)."""
    from test_source_support import (
        FakeGitHub,
        FakeHub,
        FakeModelScope,
        hf_models,
        iso,
        ms_models,
        recorded_issues,
    )
    from werkzeug import Request, Response

    from tests.bench.footprint_child import GITHUB_REPOS, HF_ORGS, MS_ORGS

    rng = random.Random(seed)
    lock = threading.Lock()
    newest = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
    repos = [FakeGitHub(server, f"org{n}/repo{n}", recorded_issues()) for n in range(GITHUB_REPOS)]
    hub = FakeHub(server, [m for n in range(HF_ORGS) for m in hf_models(f"hforg{n}", 20, newest)])
    scope = FakeModelScope(server, [m for n in range(MS_ORGS)
                                    for m in ms_models(f"msorg{n}", 20, newest)])

    def advance(request: Request) -> Response:
        at = datetime.fromisoformat(request.args["at"])
        with lock:
            for fake in rng.sample(repos, 4):
                index = rng.randrange(len(fake.issues))
                item = copy.deepcopy(fake.issues[index])
                if item["state"] == "open":
                    item.update(state="closed", closed_at=iso(at))
                    if rng.random() < 0.3:
                        item["title"] = f"DeepSeek: {item['title']}"[:200]
                else:
                    item.update(state="open", closed_at=None)
                item["updated_at"] = iso(at)
                fake.issues[index] = item  # one assignment: the server threads see old or new
            for fakes, key, stamp in ((hub, "lastModified", at.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
                                      (scope, "last_modified", iso(at))):
                index = rng.randrange(len(fakes.models))
                model = copy.deepcopy(fakes.models[index])
                model[key] = stamp
                model["sha"] = f"{rng.getrandbits(160):040x}"
                fakes.models[index] = model
        for fake in (*repos, hub, scope):
            fake.requests.clear()  # the fakes log every request; the parent must not grow
        server.clear_log()
        return Response("{}", content_type="application/json")

    server.expect_request("/_bench/advance", method="POST").respond_with_handler(advance)


def _memory(sizes: Sizes, *, migrated: bool) -> dict[str, Any]:
    """The child's report. `migrated`: its database was created and migrated by another
    process first (a worker started on its database, as the start-up row measures); else the
    child creates and migrates it itself (a first install: the migration steps import
    playhouse.migrate, without psycopg2 for an SQLite database)."""
    with upstream_server() as server, running_sink() as sink, \
            tempfile.TemporaryDirectory() as tmp:
        _fakes_with_changes(server)
        db = str(Path(tmp) / "footprint.sqlite3")
        if migrated:
            subprocess.run([sys.executable, "-c", "import sys; from mrt.store.db import "
                            "open_store; open_store(sys.argv[1]).close()", db],
                           check=True, env=child_env(), cwd=ROOT, timeout=120)
        proc = subprocess.run(
            [sys.executable, "-m", "tests.bench.footprint_child",
             "--upstream", server.url_for("/").rstrip("/"), "--sink-port", str(sink.port),
             "--db", db, "--ticks", str(sizes.footprint_ticks),
             "--warm", str(min(10, sizes.footprint_ticks))],
            capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"footprint child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _bare_rss_kib() -> int:
    code = ("from pathlib import Path; print(next(l.split()[1] for l in "
            "Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS:')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=child_env())
    return int(out.stdout)


def worker_command() -> list[str]:
    script = Path(sys.executable).with_name("mrt-worker")
    found = str(script) if script.exists() else shutil.which("mrt-worker")
    return [found] if found else [sys.executable, "-m", "worker"]


def _startup(runs: int) -> tuple[float, float]:
    """Best-of-`runs` seconds from spawn to the first request: mrt-worker --once vs httpx."""
    from test_source_support import FakeGitHub, recorded_issues

    class StampedGitHub(FakeGitHub):
        first: float | None = None

        def handle(self, request: Any) -> Any:
            if self.first is None:
                self.first = time.monotonic()
            return super().handle(request)

    with upstream_server() as server, tempfile.TemporaryDirectory() as tmp:
        fake = StampedGitHub(server, "bench/startup", recorded_issues())
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({
            "state": {"sqlite_path": str(Path(tmp) / "startup.sqlite3")},
            "sources": {"github": {"repos": ["bench/startup"],
                                   "base_url": server.url_for("/").rstrip("/")}},
        }))
        url = server.url_for("/repos/bench/startup/issues")

        def first_request(command: list[str]) -> float:
            fake.first = None
            started = time.monotonic()
            proc = subprocess.run(command, capture_output=True, text=True, env=child_env(),
                                  timeout=120, check=False)
            if proc.returncode != 0 or fake.first is None:
                raise RuntimeError(f"{command[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
            return fake.first - started

        worker = [*worker_command(), "--once", "--config", str(config)]
        first_request(worker)  # creates and migrates the database: a first install, not a start
        ours = min(first_request(worker) for _ in range(max(1, runs)))
        bare = [sys.executable, "-c", f"import httpx; httpx.get({url!r}, trust_env=False)"]
        baseline = min(first_request(bare) for _ in range(max(1, runs)))
    return ours, baseline


def _imports(runs: int) -> tuple[float, float, dict[str, bool]]:
    def timed(code: str) -> float:
        return best_of(runs, lambda: subprocess.run([sys.executable, "-c", code], check=True,
                                                    env=child_env()))

    ours = timed("import worker.main")
    bare = timed("pass")
    probe = subprocess.run(
        [sys.executable, "-c", "import json, sys, worker.main; print(json.dumps("
         "{m: m in sys.modules for m in ('apprise', 'textual', 'jinja2', 'peewee', 'httpx')}))"],
        capture_output=True, text=True, check=True, env=child_env())
    return ours, bare, json.loads(probe.stdout)


def _byte_compiled() -> list[str]:
    """Byte-compile MRT's packages where they are imported from, as `pipx install` (pip) does
    at install: the baseline's httpx, in site-packages, is compiled; an editable checkout run
    with PYTHONDONTWRITEBYTECODE=1 (or never imported before) would otherwise compile every
    module at every start (~60 ms). Returns the directories compiled."""
    done = []
    for package in ("mrt", "worker"):
        spec = importlib.util.find_spec(package)
        for directory in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(directory, quiet=1)
            done.append(directory)
    return done


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    _byte_compiled()
    memory = _memory(sizes, migrated=True)
    first_install = _memory(sizes, migrated=False)
    bare_kib = _bare_rss_kib()
    startup, startup_base = _startup(sizes.startup_runs)
    imported, bare_import, loaded = _imports(sizes.startup_runs)
    mib = 1024
    warm = memory.get("rss_warm_kib", memory["rss_end_kib"])
    listed = ", ".join(f"{name} {'yes' if there else 'no'}" for name, there in loaded.items())
    return [
        Row(BENCH, "RSS after long run", memory["rss_end_kib"] / mib, "MiB",
            "bare python interpreter", bare_kib / mib, cmd,
            f"{memory['sources']} sources, {memory['cycles']:,} cycles "
            f"({sizes.footprint_ticks} ticks), {memory['events']:,} events, "
            f"{memory['deliveries']:,} deliveries; before the first tick "
            f"{memory['rss_start_kib'] / mib:.1f} MiB; on a database migrated before (as "
            f"the start-up row); Apprise loaded: {'yes' if memory.get('apprise') else 'no'}, "
            f"PostgreSQL driver: {'yes' if memory.get('psycopg2') else 'no'}"),
        Row(BENCH, "RSS after long run, first install", first_install["rss_end_kib"] / mib,
            "MiB", "bare python interpreter", bare_kib / mib, cmd,
            "the row above with the database created and migrated by the worker itself (the "
            "row above until 2026-12-05; its migration imports playhouse.migrate); "
            f"PostgreSQL driver loaded: {'yes' if first_install.get('psycopg2') else 'no'}"),
        Row(BENCH, "RSS growth", memory["rss_end_kib"] / mib, "MiB",
            f"RSS after {memory.get('warm_cycles', 0):,} cycles", warm / mib, cmd,
            "1.00 = flat: nothing grows with the number of cycles"),
        Row(BENCH, "start-up to first request", startup * 1000, "ms",
            "python -c 'import httpx; httpx.get(...)'", startup_base * 1000, cmd,
            f"mrt-worker --once on a migrated database, best of {sizes.startup_runs}"),
        Row(BENCH, "import worker", imported * 1000, "ms", "python -c pass", bare_import * 1000,
            cmd, f"python -c 'import worker.main' (wall); loaded: {listed}"),
    ]
