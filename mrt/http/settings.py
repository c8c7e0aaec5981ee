"""The plain values the HTTP layer is made of: who we say we are, what a host may receive,
what one poll's client needs, and one JSON answer. No source, no config model."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mrt import __version__

DISTRIBUTION = "model-release-tracker"
DEFAULT_MAX_BODY = 10 * 1024 * 1024

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


def homepage() -> str | None:
    """The project's homepage as the installed package declares it (a `Homepage` project URL,
    or the old Home-page field); None when it declares none: better no address than a wrong one.
    """
    try:
        meta = importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower().replace("-", "").replace("_", "") in ("homepage", "home"):
            return url.strip() or None
    home = (meta.get_all("Home-page") or [None])[0]
    return home if home and home != "UNKNOWN" else None


@functools.cache
def user_agent(contact: str | None = None) -> str:
    """`model-release-tracker/VERSION (+HOMEPAGE; CONTACT)`, leaving out what is not known."""
    home = homepage()
    details = [part for part in (f"+{home}" if home else None, contact) if part]
    name = f"{DISTRIBUTION}/{__version__}"
    return f"{name} ({'; '.join(details)})" if details else name


USER_AGENT = user_agent()


@dataclass(frozen=True, slots=True)
class HostBudget:
    """What one host may receive from this worker, all sources together."""

    concurrency: int = 4
    requests: int = 120
    window_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What one poll's client needs, as plain values."""

    name: str  # shown in logs and in the client's repr: "github:vllm-project/vllm"
    timeout_seconds: float = 30.0  # the whole request, connect to last byte
    ca_bundle: str | None = None  # verify against this PEM instead of the system CAs
    token: str | None = field(default=None, repr=False)  # never shown
    token_header: str = "Authorization"  # the header the token goes in ...
    token_prefix: str = "Bearer "  # ... after this prefix
    # who spends the rate limit (the token's variable name): a limit one source hits defers
    # every source of the same identity on that host
    identity: str = ""


@dataclass(frozen=True, slots=True)
class JsonResponse:
    url: str  # redacted
    status: int
    headers: httpx.Headers
    json: Any  # None when not_modified
    not_modified: bool = False
    links: Mapping[str, str] = field(default_factory=dict)  # rel -> absolute URL
