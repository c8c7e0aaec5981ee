from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest

from mrt.store.db import open_database
from mrt.store.migrations import migrate

FIXTURES = Path(__file__).parent / "fixtures"
# A fixed clock for migrations run by fixtures: tests pass their own `now` everywhere else.
FIXTURE_NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PG_URL_ENV = "MRT_TEST_PG_URL"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mrt.sqlite3"


@pytest.fixture
def db(db_path: Path) -> Iterator[peewee.Database]:
    """A real SQLite file with the current schema."""
    database = open_database(db_path)
    migrate(database, now=FIXTURE_NOW)
    yield database
    database.close()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on the server in $MRT_TEST_PG_URL, dropped afterwards."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set (see .ci/postgres)")
    import psycopg2

    name = f"mrt_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(base, name)
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database to open: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "conformance.sqlite3")
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


@pytest.fixture
def store_db(store_target: str) -> Iterator[peewee.Database]:
    """The store at the latest schema, on SQLite and (when available) PostgreSQL."""
    database = open_database(store_target)
    migrate(database, now=FIXTURE_NOW)
    yield database
    database.close()


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs `mrt`/`mrt-worker` in process installs a root handler on the stream
    pytest captured for it; take it off afterwards, so that a server thread logging later
    (aiosmtpd, pytest-httpserver) never writes to a capture that is closed. pytest's own
    capture handlers come and go per phase and are left to pytest."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def _ai_on_endpoint() -> Iterator[None]:
    """MRT_TEST_AI=1 (the suite with AI on): the session's fake OpenAI-compatible endpoint,
    started on first use by the e2e helpers' configs, stopped at the end."""
    from ai_fake import stop_session_fake

    yield
    stop_session_fake()
