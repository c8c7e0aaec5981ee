"""Limits on a config file, checked before it is parsed: its size and how deep it nests.

A config is a few kilobytes and a few levels deep (a rule's `when` tree is the deepest part).
Without limits a 58 MB file took 950 MB of memory to load, and one nested 2,000 levels deep
crashed `mrt check` and the worker with RecursionError from the JSON/TOML parser. Both are now
a config error naming the file and saying what the limit is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mrt.config.errors import dotted

MAX_CONFIG_BYTES = 1024 * 1024  # 1 MiB: hundreds of times the largest real config
MAX_CONFIG_DEPTH = 64  # tables and lists inside each other; a deep rule tree needs ~10

MAX_DOTS_PER_LINE = 4 * MAX_CONFIG_DEPTH  # TOML dotted keys (and a line of decimals)

# Where a bracket or a dot is not one: strings (JSON's, every TOML form) and TOML comments.
_JSON_SKIP = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TOML_SKIP = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*',
    re.DOTALL,
)
_BRACKETS = re.compile(r"[\[\]{}]")


def read_capped(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes | None:
    """The file's bytes, or None when it is larger than `limit` (never reading past it)."""
    with path.open("rb") as stream:  # also bounded for a device or a pipe, where size is 0
        raw = stream.read(limit + 1)
    return None if len(raw) > limit else raw


def too_large(path: Path) -> str:
    try:
        size = f"{path.stat().st_size / (1024 * 1024):.1f} MiB"
    except OSError:
        size = "larger than that"
    if size == "0.0 MiB":  # a device or a pipe that keeps giving
        size = "an endless stream"
    return (
        f"the file is {size}; a config may be at most {MAX_CONFIG_BYTES:,} bytes (1 MiB): "
        "is this the right file?"
    )


def too_deep(text: str, fmt: str, limit: int = MAX_CONFIG_DEPTH) -> str | None:
    """Why the text nests too deeply (with the line and column), or None; before parsing.

    Brackets count a level each. In TOML a dotted key (`[a.b.c]`, `a.b.c = 1`) is a level per
    dot, and tomllib's time grows with the square of a key's length (a 1 MB key took minutes),
    so a line with too many dots is refused as well.
    """
    skip = _JSON_SKIP if fmt == "json" else _TOML_SKIP
    # strings and comments blanked, their line breaks kept so that positions stay true
    bare = skip.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)
    depth = 0
    for match in _BRACKETS.finditer(bare):
        if match[0] in "[{":
            depth += 1
            if depth > limit:
                return (
                    f"nested more than {limit} levels deep {_where(bare, match.start())} "
                    "(tables and lists inside each other; a config needs a few)"
                )
        else:
            depth = max(0, depth - 1)
    if fmt != "json":
        start = 0
        for line in bare.split("\n"):
            if line.count(".") > MAX_DOTS_PER_LINE:
                return (
                    f"more than {MAX_DOTS_PER_LINE} dots (dotted key parts) "
                    f"{_where(bare, start)}: a key nests a few levels"
                )
            start += len(line) + 1
    return None


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return f"at line {line}, column {column}"


def deepest_path(data: Any, limit: int = MAX_CONFIG_DEPTH) -> str | None:
    """The dotted path of the first value deeper than `limit`, or None (walks without recursion).

    TOML's dotted keys (`a.b.c = 1`, `[a.b.c]`) nest without a bracket per level, so the parsed
    data is checked too.
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if len(loc) > limit:
            shown = dotted(loc)
            return shown if len(shown) <= 60 else shown[:59] + "…"
        if isinstance(value, dict):
            stack.extend((v, (*loc, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(value))
    return None
