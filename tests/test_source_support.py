"""Shared by the source and HTTP tests: loopback fakes of the three upstreams, fed with the
recorded payloads in tests/fixtures/upstream/, a fake clock, and a snapshot store carried
between polls (the runner's job in production). No tests live here."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import SourceSection
from mrt.http import HttpClient, HttpPool
from mrt.source_kit.contract import PollContext, PollResult, SourceSpec

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def load(relative: str) -> Any:
    return json.loads((UPSTREAM / relative).read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeClock:
    """`now` and `sleep` for HttpPool: sleeping advances the clock and is recorded, never waits."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)


def make_pool(clock: FakeClock, **kwargs: Any) -> HttpPool:
    kwargs.setdefault("jitter", lambda: 0.5)
    return HttpPool(sleep=clock.sleep, now=clock.now, **kwargs)


@dataclass
class SourceState:
    """What the runner keeps per source between polls: cursor, validators, snapshots."""

    cursor: dict[str, Any] | None = None
    validators: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    asked: list[list[str]] = field(default_factory=list)

    def lookup(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(keys)
        self.asked.append(wanted)
        return {k: copy.deepcopy(self.snapshots[k]) for k in wanted if k in self.snapshots}

    def commit(self, result: PollResult, client: HttpClient) -> None:
        self.snapshots.update(copy.deepcopy(result.snapshots))
        self.cursor = dict(result.cursor)
        self.validators = dict(client.validators)


async def poll_once(
    module: ModuleType,
    spec: SourceSpec,
    pool: HttpPool,
    state: SourceState,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime = T0,
    commit: bool = True,
) -> tuple[PollResult, HttpClient]:
    env = dict(env or {})
    client = pool.client(spec.http_settings(env), validators=state.validators)
    ctx = PollContext(http=client, now=now, cursor=copy.deepcopy(state.cursor),
                      snapshots=state.lookup, env=env)
    result = await module.poll(spec, ctx)
    if commit:
        state.commit(result, client)
    return result, client


def run(factory: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(factory())  # type: ignore[arg-type]


def spec_for(module: ModuleType, section: SourceSection, index: int = 0) -> SourceSpec:
    return module.instances(module.__name__.rsplit(".", 1)[1], section, None)[index]  # type: ignore[no-any-return]


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def json_response(request: Request, payload: Any, headers: dict[str, str] | None = None,
                  conditional: bool = True) -> Response:
    """200 with an ETag, or 304 when the client's If-None-Match matches (as GitHub does)."""
    body = json.dumps(payload).encode()
    tag = etag_of(body)
    extra = dict(headers or {})
    if conditional and request.headers.get("If-None-Match") == tag:
        return Response(status=304, headers={"ETag": tag, **extra})
    if conditional:
        extra["ETag"] = tag
    return Response(body, status=200, content_type="application/json; charset=utf-8",
                    headers=extra)


# --- GitHub ---------------------------------------------------------------------------------

def recorded_issues() -> list[dict[str, Any]]:
    """The 30 recorded PyGithub issues/PRs (all open as recorded)."""
    return load("github/issues_list_pygithub_2024.json")  # type: ignore[no-any-return]


class FakeGitHub:
    """`GET /repos/{o}/{r}/issues` over loopback the way GitHub answers it: `since` (>=),
    `sort=updated`, `direction`, `per_page`, `page`, Link next, ETag + 304, X-RateLimit-*."""

    def __init__(self, server: HTTPServer, repo: str, issues: list[dict[str, Any]],
                 prefix: str = "") -> None:
        self.server = server
        self.repo = repo
        self.issues = issues
        self.path = f"{prefix}/repos/{repo}/issues"  # prefix: GitHub Enterprise's /api/v3
        self.requests: list[Request] = []
        self.moves: dict[int, Callable[[], None]] = {}  # run before serving page N
        server.expect_request(self.path).respond_with_handler(self.handle)

    def issue(self, number: int) -> dict[str, Any]:
        return next(i for i in self.issues if i["number"] == number)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        args = request.args
        page = int(args.get("page", "1"))
        if page in self.moves:
            self.moves.pop(page)()
        items = list(self.issues)
        if "since" in args:
            items = [i for i in items if i["updated_at"] >= args["since"]]
        items.sort(key=lambda i: (i["updated_at"], i["number"]),
                   reverse=args.get("direction", "desc") == "desc")
        per_page = int(args.get("per_page", "30"))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4983",
                   "X-RateLimit-Reset": "1726571099"}
        if page * per_page < len(items):
            query = {k: v for k, v in args.items() if k != "page"}
            query["page"] = str(page + 1)
            next_url = self.server.url_for(self.path) + "?" + urlencode(query)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return json_response(request, chunk, headers)


def touch(issue: dict[str, Any], at: datetime, **changes: Any) -> None:
    issue.update(changes)
    issue["updated_at"] = iso(at)


def close(issue: dict[str, Any], at: datetime, *, merged: bool = False) -> None:
    touch(issue, at, state="closed", closed_at=iso(at),
          state_reason=None if "pull_request" in issue else "completed")
    if "pull_request" in issue and merged:
        issue["pull_request"]["merged_at"] = iso(at)


def reopen(issue: dict[str, Any], at: datetime) -> None:
    touch(issue, at, state="open", closed_at=None, state_reason="reopened")


# --- Hugging Face ---------------------------------------------------------------------------

def hf_models(org: str, count: int, newest: datetime) -> list[dict[str, Any]]:
    """`full=true` items built from the recorded default-field items: we ADD sha, lastModified
    and gated (what full=true returns; no recorded full page exists), and rename ids into
    `org` so one org has `count` models, one hour apart, newest first."""
    recorded = load("huggingface/hf_api_models_default_fields_2items.json")
    models = []
    for n in range(count):
        base = copy.deepcopy(recorded[n % len(recorded)])
        name = f"{org}/{base['id'].split('/')[1]}-{n}"
        modified = newest - timedelta(hours=n)
        base.update(id=name, modelId=name, lastModified=modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    createdAt=(modified - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    sha=hashlib.sha1(f"{name}@{n}".encode()).hexdigest(), gated=False)
        models.append(base)
    return models


class FakeHub:
    """`GET /api/models?author=&sort=lastModified&direction=-1&limit=&full=true` with Link cursor
    pagination (an opaque `cursor` parameter, as the Hub does) and ETag + 304."""

    def __init__(self, server: HTTPServer, models: list[dict[str, Any]],
                 prefix: str = "") -> None:
        self.server = server
        self.prefix = prefix
        self.models = models
        self.requests: list[Request] = []
        server.expect_request(f"{prefix}/api/models").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        args = request.args
        items = [m for m in self.models if m["id"].split("/")[0] == args.get("author")]
        items.sort(key=lambda m: m["lastModified"], reverse=True)
        limit = int(args.get("limit", "1000"))
        start = int(args.get("cursor", "0"))
        chunk = items[start: start + limit]
        headers = {"RateLimit": '"api";r=487;t=112', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
        if start + limit < len(items):
            query = {k: v for k, v in args.items() if k != "cursor"}
            query["cursor"] = str(start + limit)
            url = self.server.url_for(f"{self.prefix}/api/models") + "?" + urlencode(query)
            headers["Link"] = f'<{url}>; rel="next"'
        return json_response(request, chunk, headers)


# --- ModelScope -----------------------------------------------------------------------------

def ms_models(org: str, count: int, newest: datetime) -> list[dict[str, Any]]:
    """OpenAPI items from the spec's `list-models-response` example, renamed into `org`."""
    example = load("modelscope/openapi_examples.json")["list-models-response"]["data"]["models"]
    models = []
    for n in range(count):
        item = copy.deepcopy(example[n % len(example)])
        name = f"{org}/{item['id'].split('/')[1]}-{n}"
        modified = newest - timedelta(hours=n)
        item.update(id=name, display_name=name.split("/")[1], last_modified=iso(modified),
                    created_at=iso(modified - timedelta(days=10)))
        models.append(item)
    return models


class FakeModelScope:
    """`GET /openapi/v1/models` (page_number/page_size, the success envelope, ETag + 304)."""

    def __init__(self, server: HTTPServer, models: list[dict[str, Any]]) -> None:
        self.server = server
        self.models = models
        self.requests: list[Request] = []
        server.expect_request("/openapi/v1/models").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        args = request.args
        number, size = int(args.get("page_number", "1")), int(args.get("page_size", "10"))
        if number * size > 3000:
            return Response(json.dumps({"success": False, "code": "InputParameterError",
                                        "message": "page_number * page_size > 3000",
                                        "request_id": "x"}), status=400)
        items = [m for m in self.models if m["id"].split("/")[0] == args.get("owner")]
        items.sort(key=lambda m: m["last_modified"], reverse=True)
        chunk = items[(number - 1) * size: number * size]
        return json_response(request, {
            "success": True, "request_id": "4d3f4b7d-95be-4e6f-95eb-d75178375bd3",
            "data": {"models": chunk, "total_count": len(items), "page_number": number,
                     "page_size": size}})
