"""The console benchmark's baseline, the naive console: every row of one query read and handed
to one plain Textual DataTable.

    python -m tests.bench.plain_table DATABASE "SELECT ..."

Run as a program in a pseudo-terminal (`bench_console.py`), or in process with `run_test()`.
Imports only Textual and sqlite3, so its start-up is Textual's, not MRT's.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable


class PlainTableApp(App[None]):
    """Every row of `query` in one DataTable, read on mount (the UI waits for it)."""

    def __init__(self, path: Path, query: str) -> None:
        super().__init__()
        self.path, self.query_text = path, query

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        con = sqlite3.connect(self.path)
        rows = con.execute(self.query_text).fetchall()
        con.close()
        table = self.query_one(DataTable)
        table.add_columns(*(f"c{i}" for i in range(len(rows[0]))))
        table.add_rows(rows)
        table.focus()


def first_row(path: Path, query: str) -> tuple[object, ...]:
    """The row the table shows first (the query's own order)."""
    con = sqlite3.connect(path)
    try:
        row = con.execute(f"SELECT * FROM ({query}) LIMIT 1").fetchone()
    finally:
        con.close()
    if row is None:
        raise ValueError(f"nothing to show: {query}")
    return tuple(row)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.exit("usage: python -m tests.bench.plain_table DATABASE QUERY")
    PlainTableApp(Path(args[0]), args[1]).run()


if __name__ == "__main__":
    main()
