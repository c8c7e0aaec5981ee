"""Shared by the hostile-item tests: the cases in tests/fixtures/hostile/items/<source>/ made
into upstream items, and a loopback injector that mixes them into a fake's pages. No tests here.

Each case mutates the source's recorded item (base.json) after giving it an identity of its own
(a number, id and URL) and times of "now", so a case differs from a good item only in what it
names. Every object item also carries `x_case` (an extra key upstreams never send and sources
ignore), so a stored quarantine row can be traced back to its case through its raw copy.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from test_source_support import iso, json_response
from werkzeug import Request, Response

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
SOURCES = ("github", "huggingface", "modelscope")


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # quarantined | kept
    field: str | None = None  # the field a quarantine reason must name
    set: dict[str, Any] = default(default_factory=dict)
    drop: tuple[str, ...] = ()
    replace: Any = None
    replaces: bool = False


def cases(source: str) -> list[Case]:
    data = json.loads((HOSTILE / "items" / source / "cases.json").read_text(encoding="utf-8"))
    return [
        Case(name=c["name"], expect=c["expect"], field=c.get("field"), set=c.get("set", {}),
             drop=tuple(c.get("drop", ())), replace=c.get("replace"), replaces="replace" in c)
        for c in data["cases"]
    ]


def hostile_strings() -> dict[str, str]:
    data = json.loads((HOSTILE / "text.json").read_text(encoding="utf-8"))
    return dict(data["strings"])


def base(source: str) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(
        (HOSTILE / "items" / source / "base.json").read_text(encoding="utf-8"))
    return item


def _resolve(value: Any, now: datetime) -> Any:
    if isinstance(value, dict) and "$days_from_now" in value:
        return iso(now + timedelta(days=value["$days_from_now"]))
    if isinstance(value, dict) and "$nested" in value:  # [[[...]]], this many levels deep
        nested: list[Any] = []
        for _ in range(value["$nested"]):
            nested = [nested]
        return nested
    if isinstance(value, dict) and "$epoch_from_now" in value:
        return int((now + timedelta(seconds=value["$epoch_from_now"])).timestamp())
    return value


def _mutate(item: dict[str, Any], case: Case, now: datetime) -> Any:
    if case.replaces:
        return copy.deepcopy(case.replace)
    for path in case.drop:
        item.pop(path, None)
    for path, value in case.set.items():
        *parents, last = path.split(".")
        target = item
        for part in parents:
            target = target[part]
        target[last] = _resolve(value, now)
    return item


def hf_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- items per source -----------------------------------------------------------------------

def github_item(repo: str, number: int, title: str, now: datetime) -> dict[str, Any]:
    item = base("github")
    item.update(number=number, id=9_200_000_000 + number, title=title, body=f"{title}.",
                state="open", created_at=iso(now), updated_at=iso(now), closed_at=None,
                html_url=f"https://github.com/{repo}/issues/{number}",
                url=f"https://api.github.com/repos/{repo}/issues/{number}")
    return item


def hf_item(org: str, name: str, now: datetime) -> dict[str, Any]:
    item = base("huggingface")
    model_id = f"{org}/{name}"
    # sha, lastModified and gated: what full=true adds (no recorded full page exists)
    item.update(id=model_id, modelId=model_id, lastModified=hf_time(now), createdAt=hf_time(now),
                sha=hashlib.sha1(model_id.encode()).hexdigest(), gated=False)
    return item


def ms_item(org: str, name: str, now: datetime) -> dict[str, Any]:
    item = base("modelscope")
    item.update(id=f"{org}/{name}", display_name=name, last_modified=iso(now),
                created_at=iso(now))
    return item


def case_item(source: str, where: str, case: Case, index: int, now: datetime) -> Any:
    """The case's item: `where` is the repo or org; `index` makes its identity unique."""
    if source == "github":
        item = github_item(where, 70_000 + index, f"hostile case {case.name}", now)
    elif source == "huggingface":
        item = hf_item(where, f"hostile-{case.name}", now)
    else:
        item = ms_item(where, f"hostile-{case.name}", now)
    item["x_case"] = case.name
    return _mutate(item, case, now)


def case_of(raw: dict[str, Any]) -> str | None:
    """The case a stored raw copy came from (None for a non-object item)."""
    name = raw.get("x_case")
    return name if isinstance(name, str) else None


# --- the injector ---------------------------------------------------------------------------

@dataclass
class Injector:
    """Wraps a fake's handler: its JSON answers get `items` spliced in after position `at` of
    the list (`envelope` finds the list in an enveloped answer), with a fresh ETag, so the
    client's conditional request sees the page it was served."""

    handler: Callable[[Request], Response]
    at: int = 1
    envelope: Callable[[Any], list[Any]] = lambda body: body
    items: list[Any] = default(default_factory=list)
    served: int = 0

    def handle(self, request: Request) -> Response:
        answer = self.handler(request)
        if answer.status_code != 200 or not self.items:
            return answer
        body = json.loads(answer.get_data())
        listed = self.envelope(body)
        listed[self.at:self.at] = self.items
        self.served += 1
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower() not in ("etag", "content-type", "content-length")}
        return json_response(request, body, headers)


def interleave(items: list[Any], between: list[Any]) -> list[Any]:
    """`between` spread among `items`: good, bad, good, bad, ..."""
    out: list[Any] = []
    for n in range(max(len(items), len(between))):
        out.extend(items[n:n + 1])
        out.extend(between[n:n + 1])
    return out
