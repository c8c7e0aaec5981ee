"""Write share/man/mrt.1, mrt-worker.1 and mrt-tui.1 from the commands' own argparse parsers.

    python share/man/regenerate.py          # rewrite the pages
    python share/man/regenerate.py --check  # exit 1 and name the stale pages (CI)

argparse-manpage (`pip install -e '.[docs]'`) turns each parser, subcommands included, into
roff; the pages carry the version, not a date, so the same code gives the same bytes.
tests/test_man_pages.py fails when a checked-in page differs from what this writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

SUMMARY = {  # the NAME line
    "mrt": "look after Model Release Tracker: config, database, outbox, sources, rules",
    "mrt-worker": "poll upstream sources, match rules, store alerts and deliver them",
    "mrt-tui": "the Model Release Tracker operator console",
}
SEE_ALSO = {
    "mrt": "mrt-worker(1), mrt-tui(1)",
    "mrt-worker": "mrt(1), mrt-tui(1)",
    "mrt-tui": "mrt(1), mrt-worker(1)",
}


def parsers() -> dict[str, Callable[[], argparse.ArgumentParser]]:
    from mrt.cli import build_parser as mrt_parser
    from tui.main import build_parser as tui_parser
    from worker.main import build_parser as worker_parser

    return {"mrt": mrt_parser, "mrt-worker": worker_parser, "mrt-tui": tui_parser}


def page(name: str, parser: argparse.ArgumentParser) -> str:
    from argparse_manpage.manpage import Manpage

    from mrt import __version__

    os.environ["COLUMNS"] = "80"  # argparse wraps help text to the terminal: fix the width
    man = Manpage(parser, _data={
        "date": __version__,
        "project_name": "Model Release Tracker",
        "version": __version__,
        "manual_title": "MRT manual",
        "description": SUMMARY[name],
    })
    text = str(man)
    others = SEE_ALSO[name]
    return text.rstrip("\n") + f"\n.SH \"SEE ALSO\"\n{others}\n"


def pages() -> dict[Path, str]:
    return {HERE / f"{name}.1": page(name, build()) for name, build in parsers().items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in pages().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
    if check and stale:
        names = ", ".join(p.name for p in stale)
        print(f"stale manual pages: {names}; run python share/man/regenerate.py", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
