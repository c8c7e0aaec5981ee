"""The declaration a source makes to run through the conformance class in
tests/test_source_conformance.py (`SourceCase`), what the class needs of a fake (`Served`), and
a mixin giving a fake that lacks them an `answer` override and the `statuses` it gave. No tests
live here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import SourceSection


class Served(Protocol):
    """A loopback fake as the class drives it: every request it saw, and an `answer` that,
    when set, replaces its normal answer (the fault cases)."""

    requests: list[Any]
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
    key: str | None = None  # which of the section's instances, when it makes several
    env: dict[str, str] = field(default_factory=dict)
    grow: Callable[[Any], int] | None = None  # N changes spanning pages; returns N
    no_conditional: str | None = None
    no_paging: str | None = None


class Faulty:
    """Mixed in before a fake that has `handle` and `requests` but no `answer`/`statuses`."""

    answer: Response | None = None
    requests: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.statuses: list[int] = []
        super().__init__(*args, **kwargs)

    def handle(self, request: Request) -> Response:
        if self.answer is not None:
            self.requests.append(request)
            self.statuses.append(self.answer.status_code)
            return self.answer
        response: Response = super().handle(request)  # type: ignore[misc]
        self.statuses.append(response.status_code)
        return response
