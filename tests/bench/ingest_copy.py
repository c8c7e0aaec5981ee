"""The ingest benchmark's baselines: the rows the pipeline wrote, copied by raw SQL.

    run_raw_copy / _pg       every row, one statement per table (`executemany`; PostgreSQL:
                             `execute_values`), one transaction: the issue's baseline
    run_raw_cycles / _pg     the same rows in the transactions the pipeline committed them in
                             (a cycle's rows and its cursor's move, one COMMIT each): the limit
                             of what the product promises, since the cursor moves with its events
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.corpus import T0

TABLES = ("event", "alert", "outbox", "resource_snapshot", "cycle_metric")


@dataclass(frozen=True, slots=True)
class Took:
    """Seconds of wall-clock time and of this process's CPU time."""

    wall: float
    cpu: float

    @classmethod
    def since(cls, wall: float, cpu: float) -> Took:
        return cls(time.perf_counter() - wall, time.process_time() - cpu)


def run_raw_copy(source: Path, dest: Path) -> tuple[Took, int]:
    """The physical limit: the same rows, `executemany` per table, one transaction."""
    from mrt.store.db import open_store

    open_store(dest, now=T0).close()  # the same schema, indexes and triggers
    src = sqlite3.connect(source)
    rows = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}
    columns = {t: len(src.execute(f"SELECT * FROM {t} LIMIT 0").description) for t in TABLES}
    rule_versions = src.execute("SELECT * FROM rule_version").fetchall()
    src.close()
    out = sqlite3.connect(dest, isolation_level=None)
    out.execute("PRAGMA journal_mode=wal")
    out.execute("PRAGMA synchronous=normal")
    out.execute("PRAGMA foreign_keys=1")
    out.execute("INSERT INTO rule_version VALUES (?, ?, ?, ?)", rule_versions[0])
    started, cpu = time.perf_counter(), time.process_time()
    out.execute("BEGIN IMMEDIATE")
    for table in TABLES:
        marks = ", ".join("?" * columns[table])
        out.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
    out.execute("COMMIT")
    seconds = Took.since(started, cpu)
    out.close()
    return seconds, len(rows["event"])


Tables = dict[str, list[tuple[Any, ...]]]


def split_cycles(rows: Tables, names: dict[str, list[str]]) -> list[Tables]:
    """The copied rows in the transactions the pipeline committed them in: a cycle's metric row
    counts its new events (ids in commit order), its alerts follow their events, the outbox rows
    their alerts, a snapshot the cycle that last wrote it (its `updated_at` is the cycle's)."""
    def col(table: str, name: str) -> int:
        return names[table].index(name)

    metrics = sorted(rows["cycle_metric"], key=lambda r: r[0])
    events = sorted(rows["event"], key=lambda r: r[0])
    cycles: list[Tables] = [{t: [] for t in TABLES} for _ in metrics]
    of_event: dict[Any, int] = {}
    of_time: dict[Any, int] = {}
    taken = 0
    for n, metric in enumerate(metrics):
        cycles[n]["cycle_metric"].append(metric)
        of_time[metric[col("cycle_metric", "started_at")]] = n
        new = metric[col("cycle_metric", "new_events")]
        for event in events[taken: taken + new]:
            cycles[n]["event"].append(event)
            of_event[event[0]] = n
        taken += new
    assert taken == len(events), (taken, len(events))
    of_alert: dict[Any, int] = {}
    for alert in sorted(rows["alert"], key=lambda r: r[0]):
        n = of_event[alert[col("alert", "event_id")]]
        cycles[n]["alert"].append(alert)
        of_alert[alert[0]] = n
    for row in sorted(rows["outbox"], key=lambda r: r[0]):
        cycles[of_alert[row[col("outbox", "alert_id")]]]["outbox"].append(row)
    for snap in rows["resource_snapshot"]:
        cycles[of_time[snap[col("resource_snapshot", "updated_at")]]]["resource_snapshot"].append(snap)
    return cycles


# the cursor's move each cycle commits with its rows (what record_success writes)
CURSOR_SQL = ("UPDATE source_state SET cursor = {p}, validators = {p}, last_poll_at = {p}, "
              "last_success_at = {p}, next_poll_at = {p}, updated_at = {p} WHERE source_key = {p}")
STATE_COLUMNS = ("cursor", "validators", "last_poll_at", "last_success_at", "next_poll_at",
                 "updated_at", "source_key")


def _read(cur: Any, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur.execute(f"SELECT * FROM {table}")
    return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]


def _read_all(cur: Any) -> tuple[Tables, dict[str, list[str]]]:
    rows: Tables = {}
    names: dict[str, list[str]] = {}
    for table in (*TABLES, "rule_version", "source_state"):
        names[table], rows[table] = _read(cur, table)
    return rows, names


def _cursor_moves(rows: Tables, names: dict[str, list[str]]) -> dict[Any, tuple[Any, ...]]:
    """Each source's cursor row (its final values: the same width as every cycle's update)."""
    index = [names["source_state"].index(c) for c in STATE_COLUMNS]
    return {r[index[-1]]: tuple(r[i] for i in index) for r in rows["source_state"]}


def run_raw_cycles(source: Path, dest: Path) -> tuple[Took, int]:
    """The limit of what the product promises: the same rows, `executemany` per table, in the
    pipeline's transactions (a cycle's rows and its cursor's move, one COMMIT each)."""
    from mrt.store.db import open_store

    open_store(dest, now=T0).close()
    src = sqlite3.connect(source)
    rows, names = _read_all(src.cursor())
    src.close()
    cycles = split_cycles(rows, names)
    moves = _cursor_moves(rows, names)
    key = names["cycle_metric"].index("source_key")
    out = sqlite3.connect(dest, isolation_level=None)
    out.execute("PRAGMA journal_mode=wal")
    out.execute("PRAGMA synchronous=normal")
    out.execute("PRAGMA foreign_keys=1")
    out.execute("INSERT INTO rule_version VALUES (?, ?, ?, ?)", rows["rule_version"][0])
    width = len(names["source_state"])
    out.executemany(f"INSERT INTO source_state VALUES ({', '.join('?' * width)})",
                    rows["source_state"])
    inserts = {t: f"INSERT INTO {t} VALUES ({', '.join('?' * len(names[t]))})" for t in TABLES}
    update = CURSOR_SQL.format(p="?")
    started, cpu = time.perf_counter(), time.process_time()
    for cycle in cycles:
        out.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            out.executemany(inserts[table], cycle[table])
        out.execute(update, moves[cycle["cycle_metric"][0][key]])
        out.execute("COMMIT")
    seconds = Took.since(started, cpu)
    out.close()
    return seconds, len(rows["event"])


def run_raw_cycles_pg(source: str, dest: str) -> tuple[Took, int]:
    """The same per-cycle limit on PostgreSQL: `execute_values` per table, a COMMIT a cycle."""
    import psycopg2
    from psycopg2.extras import execute_values

    from mrt.store.db import open_store

    open_store(dest, now=T0).close()
    src = psycopg2.connect(source)
    with src.cursor() as cur:
        rows, names = _read_all(cur)
    src.close()
    cycles = split_cycles(rows, names)
    moves = _cursor_moves(rows, names)
    key = names["cycle_metric"].index("source_key")
    out = psycopg2.connect(dest)
    with out.cursor() as cur:
        cur.execute("INSERT INTO rule_version VALUES (%s, %s, %s, %s)", rows["rule_version"][0])
        execute_values(cur, "INSERT INTO source_state VALUES %s", rows["source_state"])
    out.commit()
    update = CURSOR_SQL.format(p="%s")
    started, cpu = time.perf_counter(), time.process_time()
    for cycle in cycles:
        with out.cursor() as cur:
            for table in TABLES:
                if cycle[table]:
                    execute_values(cur, f"INSERT INTO {table} VALUES %s", cycle[table],
                                   page_size=500)
            cur.execute(update, moves[cycle["cycle_metric"][0][key]])
        out.commit()
    seconds = Took.since(started, cpu)
    out.close()
    return seconds, len(rows["event"])


def run_raw_copy_pg(source: str, dest: str) -> tuple[Took, int]:
    """The same limit on PostgreSQL: `execute_values` per table, one transaction."""
    import psycopg2
    from psycopg2.extras import execute_values

    from mrt.store.db import open_store

    open_store(dest, now=T0).close()
    src = psycopg2.connect(source)
    with src.cursor() as cur:
        rows = {}
        for table in (*TABLES, "rule_version"):
            cur.execute(f"SELECT * FROM {table} ORDER BY id")
            rows[table] = cur.fetchall()
    src.close()
    out = psycopg2.connect(dest)
    with out.cursor() as cur:
        cur.execute("INSERT INTO rule_version VALUES (%s, %s, %s, %s)", rows["rule_version"][0])
    out.commit()
    started, cpu = time.perf_counter(), time.process_time()
    with out.cursor() as cur:
        for table in TABLES:
            execute_values(cur, f"INSERT INTO {table} VALUES %s", rows[table], page_size=500)
    out.commit()
    seconds = Took.since(started, cpu)
    out.close()
    return seconds, len(rows["event"])
