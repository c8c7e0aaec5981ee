"""What a source declares to be run through the conformance class in
tests/test_source_conformance.py: its plugin module, a config section pointing at a loopback
fake, how the fake changes, the events that change yields, and what the source does not support
(with the reason, shown by `pytest -rs`). A new source gets the whole class by adding one
`SourceCase` to CASES. No tests live here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, Protocol

from pytest_httpserver import HTTPServer
from test_source_pypi import FakePyPI
from test_source_pypi import recorded as pypi_recorded
from test_source_support import T0
from werkzeug import Request, Response

from mrt.config import SourceSection
from mrt.sources import npm, pypi


class Served(Protocol):
    """A loopback fake as the class drives it: every request it saw, and an `answer` that,
    when set, replaces its normal answer (the fault cases)."""

    requests: list[Request]
    statuses: list[int]
    answer: Response | None


@dataclass(frozen=True)
class SourceCase:
    """One source's declaration. `serve` installs the fake's state 0 on the server; `change`
    moves it to state 1, which must yield exactly `change_events` (event types, in order).
    `reset_at`/`reset_events`: after the change, `cursor_since(reset_at)` then a poll yields
    exactly those events (what changed after the date and nothing before). A `no_*` field holds
    the reason the source does not do that thing; None means it does."""

    name: str
    plugin: str  # its entry point name in `mrt.sources`
    module: ModuleType
    section: Callable[[HTTPServer], SourceSection]
    serve: Callable[[HTTPServer], Served]
    change: Callable[[Any], None]
    change_events: list[str]
    reset_at: datetime
    reset_events: list[str]
    no_conditional: str | None = None
    no_paging: str | None = None


# --- PyPI ---------------------------------------------------------------------------------

def _pypi_upload(fake: FakePyPI) -> None:
    fake.upload("0.1.10", T0 - timedelta(hours=1))


PYPI = SourceCase(
    name="pypi", plugin="pypi", module=pypi,
    section=lambda server: pypi.Config(projects=["azure-cli-monitor"],
                                       base_url=server.url_for("/")),
    serve=lambda server: FakePyPI(server, pypi_recorded()),
    change=_pypi_upload,
    change_events=["version_published"],
    # 0.1.6 and 0.1.7 were uploaded in May 2018, 0.1.5 and older before it
    reset_at=datetime(2018, 5, 1, tzinfo=UTC),
    reset_events=["version_published"] * 3,
    no_paging="one JSON document per project: nothing to page",
)


# --- npm ----------------------------------------------------------------------------------

def _npm_serve(server: HTTPServer) -> Served:
    from test_source_npm import FakeRegistry
    from test_source_npm import recorded as npm_recorded
    return FakeRegistry(server, npm_recorded())


NPM = SourceCase(
    name="npm", plugin="npm", module=npm,
    section=lambda server: npm.Config(packages=["tiny-tarball"], base_url=server.url_for("/")),
    serve=_npm_serve,
    change=lambda fake: fake.publish("1.1.0", tag=None),
    change_events=["version_published"],
    # the packument was last modified in 2015; npm reports what differs from its snapshot
    reset_at=datetime(2015, 1, 1, tzinfo=UTC),
    reset_events=["version_published"],
    no_paging="one packument per package: nothing to page",
)


CASES = [PYPI, NPM]
