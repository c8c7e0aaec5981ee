"""`mrt events` through mrt.cli.main on a real SQLite file, and the cost of its keyset reads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import peewee
import pytest
from tui_seed import NOW
from tui_views_seed import add_event, events_scene

from mrt.cli import main
from mrt.store.models import Event, database_proxy
from mrt.store.views.events import EventFilter, events_newer, events_page, id_query


def mrt(db: peewee.Database, *argv: str) -> int:
    code = main(list(argv))
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def events_json(db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str],
                *argv: str) -> list[dict[str, Any]]:
    assert mrt(db, "events", "--db", str(db_path), "--json", *argv) == 0
    data: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["events"]
    return data


def test_every_event_with_why_it_did_or_did_not_alert(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events_scene()
    rows = events_json(db, db_path, capsys)
    assert [r["id"] for r in rows] == [5, 4, 3, 2, 1]
    why = {r["id"]: r["why"] for r in rows}
    assert why[1] == ["recorded by the source's first poll (the baseline): history, not news"]
    assert why[2] == ["matched rule deepseek because title contained 'deepseek'",
                      "rule deepseek decided: notify welink"]
    assert why[3] == ["no rule matched; nearest was deepseek: no keyword"]
    assert why[4][0] == "silenced by silence #1 (mirror re-sync)"
    assert why[5][-1] == "processing failed: template error: 'x' is undefined"
    assert rows[1]["title"] == "Qwen3 \x1b[31mred\u202e"  # JSON keeps every character

    assert [r["id"] for r in events_json(db, db_path, capsys, "--matched")] == [4, 2]
    assert [r["id"] for r in events_json(db, db_path, capsys, "--unmatched")] == [5, 3, 1]
    assert [r["id"] for r in events_json(db, db_path, capsys, "--source",
                                         "modelscope:qwen")] == [4]
    assert [r["id"] for r in events_json(db, db_path, capsys, "--limit", "2")] == [5, 4]

    assert mrt(db, "events", "--db", str(db_path), "--matched") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    lines = out.splitlines()
    assert lines[0].startswith("#4  ") and "silenced" in lines[0] and "modelscope:qwen" in lines[0]
    assert lines[1] == "    silenced by silence #1 (mirror re-sync)"
    assert any(line.startswith("#2  ") and "DeepSeek-V3 FP8" in line for line in lines)


def test_bad_input_and_an_empty_database(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mrt(db, "events", "--db", str(db_path)) == 0
    assert capsys.readouterr().out.strip() == "no events stored yet"
    assert mrt(db, "events", "--db", str(db_path), "--matched") == 0
    assert capsys.readouterr().out.strip() == "no events match"
    assert mrt(db, "events", "--db", str(db_path), "--limit", "-3") == 2
    assert "--limit: expected a positive number, found -3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["events", "--matched", "--unmatched"])


def test_pages_are_keyset_reads_merged_across_decisions(db: peewee.Database) -> None:
    events_scene()
    for n in range(6, 40):
        add_event(n, ("notify", "none", "suppress")[n % 3])
    flt = EventFilter(matched=True)
    first = events_page(flt, limit=10)
    second = events_page(flt, before_id=first[-1].id, limit=10)
    ids = [r.id for r in first + second]
    expected = [int(e.id) for e in Event.select().where(
        Event.decision.in_(["notify", "suppress", "silenced"])).order_by(Event.id.desc())]
    assert ids == expected[:20]
    assert [r.id for r in events_newer(flt, ids[3], limit=100)] == ids[:3]


def steps(con: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    """The SQLite VM's work for one query, in units of 100 instructions."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    con.set_progress_handler(tick, 100)
    try:
        con.execute(sql, params).fetchall()
    finally:
        con.set_progress_handler(None, 100)
    return count[0]


FILTERS = [EventFilter(), EventFilter(matched=True), EventFilter(matched=False),
           EventFilter(source="modelscope:rare"),
           EventFilter(source="modelscope:rare", matched=True)]


def page_cost(con: sqlite3.Connection, flt: EventFilter) -> int:
    total = 0
    for decision in flt.decisions() or (None,):
        sql, params = id_query(flt, decision, before_id=None, after_id=None, limit=100).sql()
        plan = " ".join(str(r[-1]) for r in con.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "TEMP B-TREE" not in plan, plan  # never a sort of what matched
        total += steps(con, sql, tuple(params))
    return total


def test_a_page_costs_the_same_on_a_small_and_a_large_table(db: peewee.Database) -> None:
    """Matched events and the one source are rare and old: a read that walked the table or
    sorted what matched would grow with it; a keyset read on an index does not."""
    con = db.connection()

    def grow_to(total: int) -> None:
        start = con.execute("SELECT COUNT(*) FROM event").fetchone()[0]
        rows = []
        for n in range(start, total):
            rare = n < 300
            rows.append((f"fp{n}", "modelscope:rare" if rare else "github:a/b", str(n), str(n),
                         f"t{n}", NOW.isoformat(),
                         ("notify" if n % 2 else "none") if rare
                         else "none" if n % 5 else "baseline"))
        con.executemany(
            "INSERT INTO event (fingerprint, source, source_key, resource_type, resource_id, "
            "event_type, event_id, title, summary, url, author, labels, observed_at, details, "
            "raw, decision, decision_detail) VALUES (?, 'x', ?, 'issue', ?, 'opened', ?, "
            "?, '', '', '', '[]', ?, '{}', '{}', ?, '{}')",
            rows,
        )
        con.commit()

    grow_to(3_000)
    small = [page_cost(con, flt) for flt in FILTERS]
    grow_to(40_000)
    large = [page_cost(con, flt) for flt in FILTERS]
    for flt, a, b in zip(FILTERS, small, large, strict=True):
        assert b <= a * 1.5 + 5, (flt, small, large)
    assert events_page(EventFilter(source="modelscope:rare", matched=True), limit=5)[0].id == 300
