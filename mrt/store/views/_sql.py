"""SQL helpers the console's queries share: literal LIKE patterns, grouped rows as tuples."""

from __future__ import annotations

from typing import Any

import peewee


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally (its own % and _ escaped with backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column: peewee.Field, text: str) -> peewee.Expression:
    # Case-insensitive (peewee spells ILIKE as LIKE on SQLite); ESCAPE is spelled out so the
    # pattern means the same on SQLite and PostgreSQL.
    return peewee.Expression(
        column,
        "ILIKE",
        peewee.NodeList(
            # converter=False: a JSON column would otherwise JSON-encode the pattern itself
            (peewee.Value(like_pattern(text), converter=False), peewee.SQL("ESCAPE '\\'"))
        ),
    )


def tuples(query: Any) -> list[tuple[Any, ...]]:
    """Rows of a grouped select as plain tuples (peewee's stubs type them as model instances)."""
    return list(query.tuples())
