"""Versioned, non-destructive schema migrations, run at start after an automatic backup.

A step adds tables, columns or indexes; none ever drops or rewrites user data. Each step runs
in its own transaction together with the SchemaVersion row that records it, so a failing step
leaves the database exactly at the previous version. Before the first step touches a non-empty
SQLite database, a copy is taken with the online backup API and its path recorded.

Two processes migrating at once: every step transaction takes the writer lock first
(BEGIN IMMEDIATE on SQLite, an advisory transaction lock on PostgreSQL) and re-reads the
version under it, so a step is applied once; the loser finds the work done.

Version 0 is "no schema_version table": an empty file, or a v0 state database (its four tables
are upgraded in place by step 1, see mrt/store/legacy_v0.py).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee
from peewee import sort_models  # type: ignore[attr-defined]  # missing from the stubs

from mrt.deferred import without_postgres_driver
from mrt.errors import MigrationError, StoreError
from mrt.events import utcnow
from mrt.store import legacy_v0
from mrt.store.backup import backup_before_migration
from mrt.store.db import execute, fetch_all, is_sqlite, sqlite_path
from mrt.store.models import (
    ALL_MODELS,
    AggregateBucket,
    AggregateMember,
    AiCacheEntry,
    AiStatus,
    BaseModel,
    DigestItem,
    DigestSchedule,
    Event,
    Outbox,
    QuarantinedItem,
    SchemaVersion,
    SourceState,
    TargetBudget,
    VendorThread,
    WebhookDelivery,
    WorkerHeartbeat,
)


class SchemaMigrator:
    """playhouse.migrate's, imported by the first step that adds a column: it imports
    playhouse.cockroachdb and so psycopg2 when it can, which an SQLite process never needs:
    for an SQLite database it is imported without it (mrt/deferred.py; it only loses the
    hstore registration of playhouse.postgres_ext, which MRT does not use)."""

    @staticmethod
    def from_database(db: peewee.Database) -> Any:
        if "playhouse.migrate" not in sys.modules and not isinstance(
            db, peewee.PostgresqlDatabase
        ):
            with without_postgres_driver():
                import playhouse.migrate  # noqa: F401
        from playhouse.migrate import SchemaMigrator as Migrator

        return Migrator.from_database(db)

# Any 64-bit number unique to MRT: the PostgreSQL advisory lock that serialises migrations.
_PG_MIGRATION_LOCK = 0x4D52545F4D4947  # "MRT_MIG"


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    apply: Callable[[peewee.Database, datetime], None]


@dataclass
class MigrationReport:
    from_version: int
    to_version: int
    backup_path: Path | None = None
    steps: list[str] = field(default_factory=list)  # "2 noise_tables", in the order applied
    upgraded_v0: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def _frozen_model(model: type[BaseModel], *, without: tuple[str, ...]) -> type[BaseModel]:
    """`model` as an earlier version shipped it: the same table without later columns.

    Step 1 must create the version-1 schema forever, even after later steps add columns to the
    current models; so it builds its tables from these frozen copies, not from the live classes.
    """
    attrs: dict[str, object] = {}
    for name, original in model._meta.fields.items():
        if name in without:
            continue
        clone = copy.copy(original)
        if isinstance(clone, peewee.ForeignKeyField):
            clone.backref = "+"  # never replace the live model's backref accessor
        attrs[name] = clone
    meta = type(
        "Meta", (), {"table_name": model._meta.table_name, "indexes": model._meta.indexes}
    )
    attrs["Meta"] = meta
    attrs["__module__"] = __name__
    return type(f"{model.__name__}V1", (BaseModel,), attrs)


def _step_initial(db: peewee.Database, now: datetime) -> None:
    """Version 1: the first v1 schema; a v0 state database found here is upgraded in place."""
    found_v0 = legacy_v0.is_v0_database(db)  # before schema_version exists
    later_tables = {
        AggregateBucket, DigestItem, AggregateMember, DigestSchedule, QuarantinedItem,
        VendorThread, TargetBudget, WebhookDelivery, AiCacheEntry, AiStatus,
    }
    frozen: dict[type[BaseModel], type[BaseModel]] = {
        Event: _frozen_model(Event, without=("silence",)),
        SourceState: _frozen_model(SourceState, without=_V6_STATE),
        WorkerHeartbeat: _frozen_model(WorkerHeartbeat, without=(*RELOAD_COLUMNS, "mode")),
        Outbox: _frozen_model(Outbox, without=("folded_into",)),
    }
    # Order by the live models' foreign keys (the frozen copy is not what others point at),
    # so PostgreSQL never sees a reference to a table that does not exist yet.
    ordered = [
        frozen.get(m, m) for m in sort_models([m for m in ALL_MODELS if m not in later_tables])
    ]
    try:
        with db.bind_ctx(ordered):
            for model in ordered:
                model.create_table(safe=True)
    finally:
        # the copy registered itself as a backref of RuleVersion: forget it again
        for copied in frozen.values():
            for fk in list(copied._meta.refs):
                copied._meta.remove_ref(fk)
    if found_v0:
        legacy_v0.copy_into_v1(db, now=now)


def _step_noise_tables(db: peewee.Database, now: datetime) -> None:
    """Version 2: what aggregation, digests and silences need to keep their state."""
    bucket = _frozen_model(AggregateBucket, without=_V6_BUCKET)
    try:
        db.create_tables([bucket, DigestItem])
    finally:
        for fk in list(bucket._meta.refs):  # as in step 1: the copy is no backref of Alert
            bucket._meta.remove_ref(fk)
    migrator = SchemaMigrator.from_database(db)
    # add_column also creates the FK's index, the same one create_tables makes on a fresh file
    migrator.add_column("event", "silence_id", Event.silence).run()


# Version 3's indexes: the dedupe window looks up a resource's last alert; the flush looks for
# open buckets whose window ended. Raw SQL with IF NOT EXISTS, the same on SQLite and PostgreSQL.
_V3_INDEXES = (
    "CREATE INDEX IF NOT EXISTS event_source_key_resource_id ON event (source_key, resource_id)",
    "CREATE INDEX IF NOT EXISTS aggregate_bucket_flushed_at_window_end "
    "ON aggregate_bucket (flushed_at, window_end)",
)


def _step_noise_links(db: peewee.Database, now: datetime) -> None:
    """Version 3: aggregation members, digest schedules, and the indexes the noise queries use."""
    db.create_tables([AggregateMember, DigestSchedule])
    for sql in _V3_INDEXES:
        execute(db, sql)


# Version 4's indexes: a sender's claim finds each target's oldest due row and its earliest due
# time with a few seeks per target (mrt/store/outbox_due.py) instead of reading every due row.
_V4_INDEXES = (
    "CREATE INDEX IF NOT EXISTS outbox_status_target_id ON outbox (status, target, id)",
    "CREATE INDEX IF NOT EXISTS outbox_status_target_next_attempt_at "
    "ON outbox (status, target, next_attempt_at)",
)


def _step_outbox_claim_indexes(db: peewee.Database, now: datetime) -> None:
    """Version 4: what claiming one row per target needs to cost the same at any backlog."""
    for sql in _V4_INDEXES:
        execute(db, sql)


def _step_quarantine(db: peewee.Database, now: datetime) -> None:
    """Version 5: upstream items a source kept aside (mrt/store/quarantine.py)."""
    db.create_tables([QuarantinedItem])


# Version 6's columns, left out of the tables the earlier steps create.
_V6_STATE = ("lease_epoch",)
_V6_BUCKET = ("open_key",)


def _step_source_leases(db: peewee.Database, now: datetime) -> None:
    """Version 6: several workers on one database. A source lease's fencing epoch
    (store/leases.py), and at most one open aggregation bucket per group key (store/noise.py):
    the newest unflushed bucket of each group is its open one."""
    migrator = SchemaMigrator.from_database(db)
    execute(db, "ALTER TABLE source_state ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0")
    migrator.add_column("aggregate_bucket", "open_key", AggregateBucket.open_key).run()
    execute(
        db,
        "UPDATE aggregate_bucket SET open_key = group_key WHERE id IN "
        "(SELECT MAX(id) FROM aggregate_bucket WHERE flushed_at IS NULL GROUP BY group_key)",
    )
    execute(
        db,
        "CREATE UNIQUE INDEX IF NOT EXISTS aggregate_bucket_open_key "
        "ON aggregate_bucket (open_key)",
    )


def _step_vendor_threads(db: peewee.Database, now: datetime) -> None:
    """Version 7 (issue 16): the thread each chat vendor message started (vendor_threads.py)."""
    db.create_tables([VendorThread])


# Version 8's columns, left out of the table step 1 creates.
RELOAD_COLUMNS = ("reload_error", "reload_failed_at", "reloaded_at")


def _step_worker_reload_status(db: peewee.Database, now: datetime) -> None:
    """Version 8: the worker's last config reload on its heartbeat (mrt/store/workers.py)."""
    migrator = SchemaMigrator.from_database(db)
    for name in RELOAD_COLUMNS:
        migrator.add_column("worker_heartbeat", name, WorkerHeartbeat._meta.fields[name]).run()


def _step_target_budgets(db: peewee.Database, now: datetime) -> None:
    """Version 9: rate budgets shared by every worker, and which message a folded row went in."""
    db.create_tables([TargetBudget])
    migrator = SchemaMigrator.from_database(db)
    migrator.add_column("outbox", "folded_into", Outbox.folded_into).run()
    execute(db, "CREATE INDEX IF NOT EXISTS outbox_folded_into ON outbox (folded_into)")


def _step_webhook_deliveries(db: peewee.Database, now: datetime) -> None:
    """Version 10: the webhook deliveries received, so that one sent again is not acted on
    twice (worker/webhooks.py, mrt/store/pushed.py)."""
    db.create_tables([WebhookDelivery])


def _step_worker_mode(db: peewee.Database, now: datetime) -> None:
    """Version 11: the worker's mode on its heartbeat (daemon, once, service)."""
    migrator = SchemaMigrator.from_database(db)
    migrator.add_column("worker_heartbeat", "mode", WorkerHeartbeat.mode).run()


def _step_ai_cache(db: peewee.Database, now: datetime) -> None:
    """Version 12: what the AI enhancements produced (mrt/store/ai_cache.py), and their health."""
    db.create_tables([AiCacheEntry, AiStatus])


STEPS: tuple[Step, ...] = (
    Step(1, "initial", _step_initial),
    Step(2, "noise_tables", _step_noise_tables),
    Step(3, "noise_links", _step_noise_links),
    Step(4, "outbox_claim_indexes", _step_outbox_claim_indexes),
    Step(5, "quarantine", _step_quarantine),
    Step(6, "source_leases", _step_source_leases),
    Step(7, "vendor_threads", _step_vendor_threads),
    Step(8, "worker_reload_status", _step_worker_reload_status),
    Step(9, "target_budgets", _step_target_budgets),
    Step(10, "webhook_deliveries", _step_webhook_deliveries),
    Step(11, "worker_mode", _step_worker_mode),
    Step(12, "ai_cache", _step_ai_cache),
)
LATEST = STEPS[-1].version
# 1..LATEST with no gap: a database at version N has every step up to N (branches' step numbers
# are closed up when they land on main).
assert [s.version for s in STEPS] == list(range(1, LATEST + 1)), "steps must be 1..LATEST"


def schema_version(db: peewee.Database) -> int:
    """The highest applied step; 0 for an empty database or a v0 one."""
    if not db.table_exists("schema_version"):
        return 0
    with db.bind_ctx([SchemaVersion]):
        row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def has_tables(db: peewee.Database) -> bool:
    return bool(db.get_tables())


@contextmanager
def _step_transaction(db: peewee.Database) -> Iterator[None]:
    """A transaction that holds the writer lock from its first statement."""
    if is_sqlite(db):
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            fetch_all(db, "SELECT pg_advisory_xact_lock(%s)", (_PG_MIGRATION_LOCK,))
            yield


def migrate(
    db: peewee.Database,
    *,
    backup_dir: Path | None = None,
    now: datetime | None = None,
    steps: tuple[Step, ...] | None = None,
) -> MigrationReport:
    """Bring the schema to LATEST (or to the last of `steps`); never drops anything.

    `steps` exists for tests that build a database at an earlier version.
    Raises MigrationError naming the failed step and the backup taken before it.
    """
    now = now or utcnow()
    plan = STEPS if steps is None else steps
    target = plan[-1].version if plan else 0
    start = schema_version(db)
    if start > LATEST:
        raise StoreError(
            f"the database is at schema version {start}, newer than this MRT knows ({LATEST}): "
            "upgrade MRT before using this database"
        )
    report = MigrationReport(from_version=start, to_version=start)
    with db.bind_ctx(ALL_MODELS):
        while True:
            with _step_transaction(db):
                current = schema_version(db)
                if current >= target:
                    break
                step = next(s for s in plan if s.version > current)
                # only before the first step: later ones start from what this run created
                path = sqlite_path(db)
                if not report.steps:
                    report.from_version = current  # another process may have moved it
                    if path is not None and has_tables(db):
                        report.backup_path = backup_before_migration(
                            path, from_version=current, now=now, backup_dir=backup_dir
                        )
                if current == 0 and legacy_v0.is_v0_database(db):
                    report.upgraded_v0 = True
                try:
                    step.apply(db, now)
                    SchemaVersion.create(
                        version=step.version,
                        name=step.name,
                        applied_at=now,
                        backup_path=str(report.backup_path) if report.backup_path else None,
                    )
                except Exception as exc:
                    where = (
                        f"the backup taken before it is {report.backup_path}"
                        if report.backup_path
                        else "no backup was needed (the database was empty)"
                        if is_sqlite(db)
                        else "PostgreSQL is not backed up by MRT: use pg_dump"
                    )
                    raise MigrationError(
                        f"migration step {step.version} ({step.name}) failed and was rolled back: "
                        f"{type(exc).__name__}: {exc}; {where}"
                    ) from exc
                report.steps.append(f"{step.version} {step.name}")
                report.to_version = step.version
    return report

