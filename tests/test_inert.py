"""The one sanitiser for terminals and logs (mrt/inert.py), over the whole hostile corpus."""

from __future__ import annotations

import json

import pytest

from mrt.inert import inert_text, strip_controls, terminal_json
from tests.hostile import CASES, CORPUS, MB_TITLE, assert_inert


@pytest.mark.parametrize("text", CASES)
def test_every_hostile_string_becomes_inert_on_one_line(text: str) -> None:
    assert_inert(inert_text(text), newlines=False)


@pytest.mark.parametrize("text", CASES)
def test_every_hostile_string_becomes_inert_keeping_its_lines(text: str) -> None:
    out = inert_text(text, multiline=True, max_chars=5000)
    assert_inert(out)
    assert "\n\n\n" not in out


@pytest.mark.parametrize("text", CASES)
def test_terminal_json_escapes_losslessly(text: str) -> None:
    dumped = terminal_json({"title": text})
    assert_inert(dumped)
    assert json.loads(dumped) == {"title": text}
    dumped.encode("utf-8")  # a lone surrogate is escaped, so printing it cannot raise


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ansi_color", "RED rest of the title"),
        ("ansi_clear_screen", "beforeafter"),
        ("osc_window_title", "visible"),
        ("osc_title_st", "visible"),
        ("osc8_hyperlink", "click me tail"),
        ("dcs_sequence", "ab"),
        ("c1_csi", "ared"),
        ("c1_nel", "first second"),
        ("nul", "nulbyte"),
        ("carriage_return_overwrite", "harmless EVIL"),
        ("bidi_rlo", "usertxt.exe"),
        ("line_paragraph_separators", "one two three"),
        ("zero_width", "deepseek qwen x"),
        ("lone_surrogate", "bad \ufffd title"),
        ("noncharacters", "x\ufffdy\ufffd"),
        ("emoji_zwj", CORPUS["emoji_zwj"]),  # joiners between emoji draw one glyph: kept
        ("cjk_wide", CORPUS["cjk_wide"]),
        ("rich_markup_close", "[/INST] Fix prompt template"),  # markup is the console's business
    ],
)
def test_what_is_left_reads_as_the_text(name: str, expected: str) -> None:
    assert inert_text(CORPUS[name]) == expected


def test_a_megabyte_title_is_bounded_quickly() -> None:
    out = inert_text(MB_TITLE, max_chars=300)
    assert len(out) == 300 and out.endswith("…") and out.startswith("DeepSeek x")


def test_newlines_are_kept_only_when_asked() -> None:
    assert strip_controls("a\nb\u2028c", keep_newlines=True) == "a\nb c"
    assert strip_controls("a\nb", keep_newlines=False) == "a b"
