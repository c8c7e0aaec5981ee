"""Versioned, non-destructive schema migrations, run at start after an automatic backup."""

from __future__ import annotations

import peewee

from mrt.events import utcnow
from mrt.store.models import ALL_MODELS, SchemaVersion

LATEST = 1


def schema_version(db: peewee.Database) -> int:
    if not db.table_exists("schema_version"):
        return 0
    row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def migrate(db: peewee.Database) -> int:
    """Bring the schema to LATEST; returns the version reached."""
    if schema_version(db) < 1:
        with db.atomic():
            db.create_tables(ALL_MODELS)
            SchemaVersion.create(version=1, name="initial", applied_at=utcnow())
    return schema_version(db)
