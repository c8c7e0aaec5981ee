"""The hostile-text corpus (tests/fixtures/hostile/text.json) and what "inert" means for it.

`CASES` parametrizes a test over every named string (ids are the names); `assert_inert`
checks text that reached a terminal, a log line or a robot: no escape, control, bidi,
separator, zero-width character or lone surrogate is left in it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mrt.store.db import open_database
from mrt.store.migrations import migrate
from mrt.store.models import Event, database_proxy
from tests.conftest import FIXTURE_NOW
from tests.tui_seed import add_alert, add_source

CORPUS: dict[str, str] = json.loads(
    (Path(__file__).parent / "fixtures/hostile/text.json").read_text(encoding="utf-8")
)["strings"]
CASES = [pytest.param(text, id=name) for name, text in CORPUS.items()]


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# What a database can hold: a lone surrogate cannot be encoded, so it never reaches a stored
# row (a source quarantines such an item; issue 19 item 4). Screens and commands that read the
# database are tested with these.
STORABLE = {name: text for name, text in CORPUS.items() if _storable(text)}
MB_TITLE = "DeepSeek " + "x" * (1024 * 1024)

# What a terminal acts on or hides: C0 (newline aside), DEL, C1, bidi controls and marks,
# line/paragraph separators, zero-width characters, lone surrogates.
_ACTIVE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2028\u2029"
    "\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
# A zero-width joiner is fine between emoji; between letters it hides.
_STRAY_JOINER = re.compile(r"(?:^|(?<=[\w\s]))\u200d|\u200d(?=[\w\s]|$)")


def active_characters(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in _ACTIVE.findall(text)] + [
        "stray U+200D" for _ in _STRAY_JOINER.findall(text)
    ]


def assert_inert(text: str, *, newlines: bool = True) -> None:
    found = active_characters(text)
    assert not found, f"active characters {found} in {text[:200]!r}"
    if not newlines:
        assert "\n" not in text, f"a newline in {text[:200]!r}"

# Every vendor's mention syntax the corpus carries: `@name` (WeLink, DingTalk, WeCom, Discord),
# Slack's `<!channel>`, `<@U123>` and the bare `!channel>` Apprise turns into one, Feishu's
# `<at ...>`, WeCom's `<@all>`.
_MENTION = re.compile(r"@\w|<\s*[!@#]|<\s*at\b|![^|\s<>!]+[ \t]*(?:\|[^\n>]*)?(?:>|&gt;)", re.I)


def mentions(text: str) -> list[str]:
    return _MENTION.findall(text)


def seed_hostile_database(db_path: Path) -> dict[str, int]:
    """A migrated SQLite file: per storable corpus string an alert (title, reasons, a dead
    delivery whose error is the string) and a failing source; a 1 MB title; an alert that went
    to no one ("nowhere"). Returns alert ids by name."""
    db = open_database(str(db_path))
    migrate(db, now=FIXTURE_NOW)
    database_proxy.initialize(db)
    ids: dict[str, int] = {}
    with db.atomic():
        for name, text in [*STORABLE.items(), ("mb_title", MB_TITLE)]:
            ids[name] = add_alert(
                f"deepseek {text}",
                reasons=(f"title contained {text!r}",),
                deliveries=(("welink", f"welink://***/{text[:64]}", "dead", f"HTTP 502: {text}"),),
                url=f"https://github.com/org/repo/issues/{len(ids)}",
                at=FIXTURE_NOW,
            )
            if name != "mb_title":
                add_source(f"github:hostile/{name}", health="failing", health_detail=text,
                           last_error=text, consecutive_failures=3)
        ids["nowhere"] = add_alert("deepseek went to no one", deliveries=(), at=FIXTURE_NOW)
        Event.update(
            decision_detail={"action": "notify", "channels": ["gone"],
                             "missing_channels": ["gone"], "matched": []}
        ).where(Event.title == "deepseek went to no one").execute()
    db.close()
    return ids
