"""mrt.plugins.PluginSet: a plugin is imported when it is looked up, a broken one is left out."""

from __future__ import annotations

import logging
import sys
from importlib.metadata import EntryPoint

import pytest

from mrt.plugins import PluginSet


def points() -> list[EntryPoint]:
    return [
        EntryPoint(name="colorsys", value="colorsys", group="g"),
        EntryPoint(name="broken", value="mrt_no_such_module_xyz", group="g"),
        EntryPoint(name="wave", value="wave", group="g"),
    ]


def test_a_lookup_imports_that_plugin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("colorsys", "wave"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    plugins = PluginSet("g", points())
    assert plugins.get("colorsys") is not None and "colorsys" in sys.modules
    assert "wave" not in sys.modules  # not asked for: not imported
    assert plugins.get("nothing") is None and "nothing" not in plugins


def test_a_broken_plugin_is_a_warning_once_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    plugins = PluginSet("g", points())
    with caplog.at_level(logging.WARNING, logger="mrt.plugins"):
        assert list(plugins) == ["colorsys", "wave"]  # entry-point order, the broken one out
        assert plugins.get("broken") is None and len(plugins) == 2
    warned = [r.getMessage() for r in caplog.records if "failed to import" in r.getMessage()]
    assert len(warned) == 1 and "g:broken" in warned[0]
