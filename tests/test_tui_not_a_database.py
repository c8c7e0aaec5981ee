"""`mrt-tui --db FILE` on a file that is not an MRT database: said clearly, and the file is
byte-for-byte what it was (no WAL switch, no page written, no -wal/-shm beside it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from textual.widgets import Static
from tui_pilot import console, settle

from tui.main import main
from tui.screens.no_database import NoDatabaseScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize(
    "content", [b'[state]\ndatabase = "mrt.sqlite3"\n', b"\x00" * 4096], ids=["toml", "zeros"]
)
def test_the_entry_point_refuses_a_file_that_is_not_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    why = "it is not an SQLite database (it starts with"
    path = tmp_path / "not-mrt.sqlite3"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(path)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert f"{path} is not an MRT database: {why}" in err and "Nothing was written" in err
    assert path.read_bytes() == content
    assert siblings(path) == ["not-mrt.sqlite3"]


async def test_the_console_shows_an_empty_file_without_writing_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.write_bytes(b"")
    app = console(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NoDatabaseScreen)
        text = str(app.screen.query_one("#no-db-advice", Static).render())
        assert "(an empty file) has no MRT schema yet: it is not an MRT database" in text
    assert path.read_bytes() == b""
    assert siblings(path) == ["empty.sqlite3"]


async def test_another_programs_sqlite_file_is_not_switched_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()
    before = path.read_bytes()
    app = console(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NoDatabaseScreen) and app.screen.state == "unmigrated"
    assert path.read_bytes() == before
    assert siblings(path) == ["other.sqlite3"]


async def test_the_console_names_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[state]\n")
    app = console(path)  # past the entry point: say, the file was swapped after start
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NoDatabaseScreen)
        text = str(app.screen.query_one("#no-db-advice", Static).render())
        assert "it is not an SQLite database" in text and "it is not an MRT database" in text
    assert path.read_bytes() == b"[state]\n"
