"""Templates are compiled once per (name, source), not once per alert: the ingest benchmark
found compilation was two thirds of planning an alerting event (docs/PERFORMANCE.md). A cached
template must keep every behaviour of a fresh one: same text, same error with its line."""

from __future__ import annotations

import re

import pytest

from mrt.delivery import render
from mrt.errors import TemplateError

SOURCE = "first {{ event.title }}\n{{ event.nope.deeper }}\n"


def test_the_second_render_of_a_template_does_not_compile_it_again() -> None:
    render._compiled.cache_clear()
    context = {"event": {"title": "DeepSeek-V3 support"}}
    first = render.render_template("team", "inline", "Hi {{ event.title }}", context)
    second = render.render_template("team", "inline", "Hi {{ event.title }}", context)
    assert first == second == "Hi DeepSeek-V3 support"
    info = render._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    # another source under the same name is another template
    assert render.render_template("team", "inline", "Bye", context) == "Bye"
    assert render._compiled.cache_info().misses == 2


def test_a_cached_template_still_names_the_line_of_its_error() -> None:
    render._compiled.cache_clear()
    for _ in range(2):  # compiled, then cached
        with pytest.raises(TemplateError, match=re.escape("inline, line 2: UndefinedError")):
            render.render_template("team", "inline", SOURCE, {"event": {"title": "x"}})
    assert render._compiled.cache_info().hits == 1


def test_a_syntax_error_is_not_cached() -> None:
    render._compiled.cache_clear()
    for _ in range(2):
        with pytest.raises(TemplateError, match="line 1: TemplateSyntaxError"):
            render.render_template("team", "broken", "{{ event.title }", {})
    assert render._compiled.cache_info().currsize == 0
