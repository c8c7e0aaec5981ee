"""What our processes import later than the libraries would (mrt/deferred.py), asserted on
sys.modules and on the library's state, never on time.

httpx's `__init__` imports its command line client (click, rich, pygments); peewee imports
psycopg2 (and libpq) whenever it is installed. Neither is used by an SQLite worker: both are
deferred, and PostgreSQL still works in a process that first used SQLite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import FakeGitHub, recorded_issues

ROOT = Path(__file__).resolve().parents[1]

# peewee's PostgreSQL state, as its import leaves it when psycopg2 is there
DRIVER_STATE = """
import json, uuid
import peewee, psycopg2, psycopg2.extras
from psycopg2 import extensions

def driver_state():
    adapter = peewee.Psycopg2Adapter
    return {
        "psycopg2": peewee.psycopg2 is psycopg2,
        "pg_extensions": getattr(peewee, "pg_extensions", None) is extensions,
        "Json_pg2": peewee.Json_pg2 is psycopg2.extras.Json,
        "txn": [adapter.txn_idle, adapter.txn_inerror, adapter.txn_unknown],
        "uuid adapted": (uuid.UUID, extensions.ISQLQuote) in extensions.adapters,
        "adapter": type(peewee.PostgresqlDatabase("x")._adapter).__name__,
    }
"""


def python(code: str, *args: str) -> Any:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_peewee_gets_psycopg2_from_the_store_as_its_own_import_would_have_given_it() -> None:
    pytest.importorskip("psycopg2")
    # peewee imported before mrt: the library's own import, nothing deferred
    eager = python("import peewee, mrt\n" + DRIVER_STATE + "print(json.dumps(driver_state()))")
    deferred = python(
        "import sys, mrt, peewee\n"
        "assert peewee.psycopg2 is None and 'psycopg2' not in sys.modules\n"
        "import psycopg2  # importable again by anyone once peewee is imported\n"
        "from mrt.deferred import load_postgres_driver\n"
        "assert load_postgres_driver() and load_postgres_driver()\n"
        + DRIVER_STATE + "print(json.dumps(driver_state()))"
    )
    assert eager["psycopg2"] and eager["uuid adapted"] and eager["adapter"] == "Psycopg2Adapter"
    assert deferred == eager


def test_httpx_command_line_is_not_imported_and_still_runs() -> None:
    out = python(
        "import json, sys, mrt\n"
        "untouched = not [m for m in sys.modules if m.startswith(('httpx', 'peewee'))]\n"
        "import httpx\n"
        "loaded = [m for m in ('click', 'rich', 'pygments') if m in sys.modules]\n"
        "try:\n"
        "    httpx.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(json.dumps({'before': loaded, 'code': code, 'click': 'click' in sys.modules,"
        " 'untouched': untouched}))"
    )
    assert out["untouched"]  # importing mrt puts nothing in sys.modules for either library
    assert out["before"] == []
    assert out["code"] == 0 and out["click"]  # the real client ran: its help, exit 0


ONCE_THEN = """
import json, sys
from worker.main import main
first = main(["--once", "--config", sys.argv[1]])
after_sqlite = sorted(m for m in ("psycopg2", "click", "rich", "pygments") if m in sys.modules)
second = main(["--once", "--config", sys.argv[2]])
from mrt.store.models import SourceState
from mrt.store.db import is_sqlite
from mrt.store.models import database_proxy
print(json.dumps({"codes": [first, second], "after_sqlite": after_sqlite,
                  "sqlite": is_sqlite(database_proxy.obj),
                  "sources": [s.source_key for s in SourceState.select()]}))
"""


@pytest.mark.postgres
def test_postgresql_works_in_a_worker_process_that_first_ran_on_sqlite(
    httpserver: HTTPServer, tmp_path: Path, fresh_pg_url: str
) -> None:
    FakeGitHub(httpserver, "acme/engine", recorded_issues())
    paths = []
    for name, state in (("sqlite", {"sqlite_path": str(tmp_path / "mrt.sqlite3")}),
                        ("pg", {"url": fresh_pg_url})):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({
            "state": state,
            "sources": {"github": {"repos": ["acme/engine"],
                                   "base_url": httpserver.url_for("/").rstrip("/")}},
        }))
        paths.append(str(path))
    # a first install: the SQLite run migrates the new file (playhouse.migrate, which imports
    # psycopg2 when it can), then the same process migrates and polls on PostgreSQL
    out = python(ONCE_THEN, *paths)
    assert out["codes"] == [0, 0]
    assert out["after_sqlite"] == []  # the SQLite run loaded no PostgreSQL driver, no httpx CLI
    # the baseline cycle stored its source state on PostgreSQL
    assert out["sqlite"] is False and out["sources"] == ["github:acme/engine"]


def test_the_cli_on_an_sqlite_database_loads_no_postgresql_driver(tmp_path: Path) -> None:
    db = tmp_path / "mrt.sqlite3"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"state": {"sqlite_path": str(db)}}))
    python("import sys; from mrt.store.db import open_store; open_store(sys.argv[1]).close();"
           "print(1)", str(db))  # installed and migrated before
    out = python(
        "import json, sys\n"
        "from mrt.cli import run\n"
        "try:\n"
        "    run(['outbox', '--config', sys.argv[1]])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(json.dumps({'code': code, 'loaded': [m for m in ('psycopg2', 'click', 'rich')"
        " if m in sys.modules]}))", str(config))
    assert out == {"code": 0, "loaded": []}
