from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from mrt.store.db import open_database
from mrt.store.migrations import migrate

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mrt.sqlite3"


@pytest.fixture
def db(db_path: Path) -> Iterator[peewee.Database]:
    """A real SQLite file with the current schema."""
    database = open_database(db_path)
    migrate(database)
    yield database
    database.close()
