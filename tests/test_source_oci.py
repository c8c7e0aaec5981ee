"""Docker Hub images over loopback: pages built from the recorded tag object
(tests/fixtures/upstream/dockerhub), changed per test."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    SourceState,
    iso,
    json_response,
    load,
    make_pool,
    poll_once,
    run,
    spec_for,
)
from werkzeug import Request, Response

from mrt.errors import RateLimited, SourceError
from mrt.sources import oci

IMAGE = "library/rust"


def recorded_tag() -> dict[str, Any]:
    return copy.deepcopy(load("dockerhub/dockerhub_single_tag_library_rust_1.44.0-slim.json"))


class FakeDockerHub:
    """`/v2/repositories/{image}/tags`: tags newest first, `page_size` per page, `next` links."""

    def __init__(self, server: HTTPServer, image: str = IMAGE) -> None:
        self.server = server
        self.image = image
        self.tags: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.answer: Response | None = None
        server.expect_request(f"/v2/repositories/{image}/tags").respond_with_handler(self.handle)

    def push(self, name: str, at: datetime, digest: str | None = None) -> dict[str, Any]:
        tag = recorded_tag()
        tag.update(name=name, last_updated=iso(at), tag_last_pushed=iso(at))
        if digest:
            tag["digest"] = digest
        self.tags = [t for t in self.tags if t.get("name") != name] + [tag]
        return tag

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        response = self.answer or self._page(request)
        self.statuses.append(response.status_code)
        return response

    def _page(self, request: Request) -> Response:
        size = int(request.args.get("page_size", "100"))
        number = int(request.args.get("page", "1"))
        ordered = sorted(self.tags, key=lambda t: str(t.get("last_updated")), reverse=True)
        chunk = ordered[(number - 1) * size:number * size]
        more = len(ordered) > number * size
        path = f"/v2/repositories/{self.image}/tags"
        following = self.server.url_for(f"{path}?page_size={size}&page={number + 1}")
        return json_response(request, {"count": len(ordered), "results": chunk,
                                       "next": following if more else None, "previous": None})


def section(server: HTTPServer, **kw: Any) -> oci.Config:
    return oci.Config(images=["rust"], base_url=server.url_for("/"), **kw)


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.event_id) for e in result.events]


def test_names_default_to_docker_hub_and_library() -> None:
    config = oci.Config(images=["rust", "docker.io/vllm/vllm-openai", "vllm/vllm-openai"])
    assert config.images == ["library/rust", "vllm/vllm-openai", "vllm/vllm-openai"]
    assert [s.key for s in oci.instances("oci", config, None)] == [  # type: ignore[arg-type]
        "oci:library/rust", "oci:vllm/vllm-openai"]
    assert oci.Config(images=["ghcr.io/sgl-project/sglang"]).images == [
        "ghcr.io/sgl-project/sglang"]
    with pytest.raises(ValidationError, match="expected a Docker Hub image"):
        oci.Config(images=["Vllm/Openai:latest"])


def test_baseline_new_tag_digest_change_and_304(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    hub.push("1.44.0-slim", T0 - timedelta(days=30))
    hub.push("latest", T0 - timedelta(days=2), digest="sha256:aaa")
    hub.push("nightly", T0 - timedelta(days=1), digest="sha256:n1")
    state = SourceState()
    spec = spec_for(oci, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(oci, spec, pool, state)
            assert base.events == [] and base.fetched == 3
            tags = state.snapshots[IMAGE]["tags"]
            assert tags["latest"] == "sha256:aaa"
            assert tags["1.44.0-slim"].startswith("platforms:sha256:20a44b32")  # no top digest

            hub.push("1.45.0", T0 - timedelta(hours=1))
            hub.push("latest", T0 - timedelta(minutes=30), digest="sha256:bbb")  # re-pushed
            hub.push("nightly", T0 - timedelta(minutes=20), digest="sha256:n2")  # not watched
            second, client = await poll_once(oci, spec, pool, state)
            assert kinds(second) == [("tag_published", "1.45.0"),
                                     ("tag_digest_changed", "latest@sha256:bbb")]
            new, moved = second.events
            assert new.title == "rust:1.45.0" and new.url.startswith("https://hub.docker.com/_/rust")
            assert new.details["platforms"]["linux/arm64/v8"].startswith("sha256:5da86b1b")
            assert moved.title == "rust:latest re-pushed"
            assert moved.summary == "digest sha256:aaa → sha256:bbb"
            assert second.cursor == {"updated_after": iso(T0 - timedelta(minutes=20))}
            assert client.statuses == Counter({200: 1})

            third, client = await poll_once(oci, spec, pool, state)
            assert third.events == [] and client.statuses == Counter({304: 1})

    run(go)
    assert "If-None-Match" in hub.requests[2].headers


def test_pages_on_baseline_then_stops_at_the_cursor(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    for n in range(250):
        hub.push(f"1.{n}.0", T0 - timedelta(days=300 - n))
    state = SourceState()
    spec = spec_for(oci, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, client = await poll_once(oci, spec, pool, state)
            assert base.fetched == 250 and client.requests == 3
            assert len(state.snapshots[IMAGE]["tags"]) == 250
            hub.push("2.0.0", T0 - timedelta(hours=1))
            second, client = await poll_once(oci, spec, pool, state)
            assert kinds(second) == [("tag_published", "2.0.0")]
            assert client.requests == 1  # the newest page already reaches the cursor
            assert len(state.snapshots[IMAGE]["tags"]) == 251  # the unread pages are kept

    run(go)


def test_cursor_reset_reports_what_was_pushed_after_the_date(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    hub.push("a", T0 - timedelta(days=10))
    hub.push("b", T0 - timedelta(days=1))
    state = SourceState()
    spec = spec_for(oci, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(oci, spec, pool, state)
            state.cursor = {**oci.cursor_since(T0 - timedelta(days=5)), "reset_to": "x"}
            state.validators = {}
            again, _ = await poll_once(oci, spec, pool, state)
            assert kinds(again) == [("tag_published", "b")]

    run(go)


def test_a_malformed_tag_is_quarantined_and_the_page_kept(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    hub.push("a", T0 - timedelta(days=10))
    state = SourceState()
    spec = spec_for(oci, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(oci, spec, pool, state)
            hub.push("b", T0 - timedelta(hours=2))
            hub.push("broken", T0 - timedelta(hours=1))["last_updated"] = "yesterday"
            hub.push("nodigest", T0 - timedelta(hours=1))["images"] = []
            result, _ = await poll_once(oci, spec, pool, state)
            assert kinds(result) == [("tag_published", "b")]
            kept = {q.item_key: q.reason for q in result.quarantined}
            assert sorted(kept) == ["tag:broken", "tag:nodigest"]
            assert "last_updated" in kept["tag:broken"] and "digest" in kept["tag:nodigest"]

    run(go)


def test_429_is_a_budget_and_html_is_an_error(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    hub.push("a", T0)
    spec = spec_for(oci, section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock(), max_attempts=1) as pool:
            hub.answer = Response("slow down", status=429, headers={"Retry-After": "600"})
            with pytest.raises(RateLimited):
                await poll_once(oci, spec, pool, SourceState())
        async with make_pool(FakeClock(), max_attempts=1) as pool:
            hub.answer = Response("<html><body>maintenance</body></html>", status=200,
                                  content_type="text/html")
            with pytest.raises(SourceError, match="HTML page"):
                await poll_once(oci, spec, pool, SourceState())

    run(go)


def test_a_private_image_is_read_with_the_token_named_by_token_env(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver, image="acme/private")
    hub.push("v1", T0)
    spec = spec_for(oci, oci.Config(images=["acme/private"], base_url=httpserver.url_for("/"),
                                    token_env="DOCKERHUB_TOKEN"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(oci, spec, pool, SourceState(), env={"DOCKERHUB_TOKEN": "dckr_pat_x"})

    run(go)
    assert hub.requests[0].headers["Authorization"] == "Bearer dckr_pat_x"


# --- a registry speaking the distribution API (fixtures from the OCI distribution spec's
# examples: tests/fixtures/upstream/distribution/PROVENANCE.md) ------------------------------

NAME = "sgl-project/sglang"


class FakeRegistry:
    """`/v2/<name>/tags/list` paged by `n`/`last` with a Link header, `HEAD` manifests with
    Docker-Content-Digest, every call 401 + Bearer challenge unless it carries the token."""

    def __init__(self, server: HTTPServer, *, user: str | None = None) -> None:
        self.server = server
        self.user = user
        self.digests: dict[str, str] = {}
        self.requests: list[Request] = []
        self.answer: Response | None = None
        server.expect_request("/token").respond_with_handler(self.token)
        server.expect_request(f"/v2/{NAME}/tags/list").respond_with_handler(self.tags)
        server.expect_request(re.compile(rf"/v2/{NAME}/manifests/.*"),
                              method="HEAD").respond_with_handler(self.manifest)

    def token(self, request: Request) -> Response:
        self.requests.append(request)
        if self.user and request.authorization is None:
            return Response(status=401)
        if self.user and request.authorization.username != self.user:  # type: ignore[union-attr]
            return Response(status=401)
        assert request.args["scope"] == f"repository:{NAME}:pull"
        return Response(json.dumps({"token": "t0k3n", "expires_in": 300}),
                        content_type="application/json")

    def _denied(self, request: Request) -> Response | None:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer
        if request.headers.get("Authorization") != "Bearer t0k3n":
            realm = self.server.url_for("/token")
            return Response(status=401, headers={"WWW-Authenticate": (
                f'Bearer realm="{realm}",service="registry.test",'
                f'scope="repository:{NAME}:pull"')})
        return None

    def tags(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        size = int(request.args.get("n", "100"))
        names = sorted(self.digests)
        last = request.args.get("last")
        rest = [t for t in names if last is None or t > last]
        chunk = rest[:size]
        headers = {}
        if len(rest) > size:
            headers["Link"] = f'</v2/{NAME}/tags/list?n={size}&last={chunk[-1]}>; rel="next"'
        return Response(json.dumps({"name": NAME, "tags": chunk}),
                        content_type="application/json", headers=headers)

    def manifest(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        assert "application/vnd.oci.image.index.v1+json" in request.headers["Accept"]
        tag = request.path.rsplit("/", 1)[1]
        return Response(status=200, headers={
            "Docker-Content-Digest": self.digests[tag],
            "Content-Type": "application/vnd.oci.image.index.v1+json"})

    def heads(self) -> list[str]:
        return [r.path.rsplit("/", 1)[1] for r in self.requests if r.method == "HEAD"]


def registry_section(server: HTTPServer, **kw: Any) -> oci.Config:
    return oci.Config(images=[f"ghcr.io/{NAME}"],
                      registry_urls={"ghcr.io": server.url_for("/").rstrip("/")}, **kw)


def test_registry_token_flow_new_tag_and_latest_repushed(httpserver: HTTPServer) -> None:
    reg = FakeRegistry(httpserver)
    reg.digests = {"v0.4.0": "sha256:" + "a" * 64, "latest": "sha256:" + "1" * 64}
    state = SourceState()
    spec = spec_for(oci, registry_section(httpserver))
    assert spec.key == f"oci:ghcr.io/{NAME}"

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(oci, spec, pool, state)
            assert base.events == [] and reg.heads() == ["latest"]  # only the watched tag
            reg.digests["v0.5.0"] = "sha256:" + "b" * 64
            reg.digests["latest"] = "sha256:" + "2" * 64
            second, _ = await poll_once(oci, spec, pool, state)
            assert kinds(second) == [("tag_digest_changed", "latest@sha256:" + "2" * 64),
                                     ("tag_published", "v0.5.0")]
            moved, new = second.events
            assert new.title == f"ghcr.io/{NAME}:v0.5.0" and new.occurred_at is None
            assert new.details["digest"] == "sha256:" + "b" * 64
            assert moved.details["previous_digest"] == "sha256:" + "1" * 64
            third, _ = await poll_once(oci, spec, pool, state)
            assert third.events == []

    run(go)
    tokens = [r for r in reg.requests if r.path == "/token"]
    assert len(tokens) == 3 and all(r.authorization is None for r in tokens)  # one per poll
    assert sorted(reg.heads()) == ["latest", "latest", "latest", "v0.5.0"]


def test_registry_pages_by_link(httpserver: HTTPServer) -> None:
    reg = FakeRegistry(httpserver)
    reg.digests = {f"v{n:03d}": f"sha256:{n:064d}" for n in range(230)}
    state = SourceState()
    spec = spec_for(oci, registry_section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(oci, spec, pool, state)
            assert base.fetched == 230 and len(state.snapshots[f"ghcr.io/{NAME}"]["tags"]) == 230
            assert reg.heads() == []  # no tag is watched: no manifest request on the baseline

    run(go)
    lists = [r for r in reg.requests if r.path.endswith("/tags/list")]
    assert [r.args.get("last") for r in lists] == [None, None, "v099", "v199"]  # 401, then 3


def test_registry_private_credentials_come_from_the_env(httpserver: HTTPServer) -> None:
    reg = FakeRegistry(httpserver, user="robot")
    reg.digests = {"v1": "sha256:" + "c" * 64}
    spec = spec_for(oci, registry_section(httpserver, username_env="REG_USER",
                                          password_env="REG_PASS"))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(oci, spec, pool, SourceState(),
                            env={"REG_USER": "robot", "REG_PASS": "s3cret"})
            with pytest.raises(SourceError, match="HTTP 401") as denied:
                await poll_once(oci, spec, pool, SourceState(), env={})
            assert "s3cret" not in str(denied.value)

    run(go)
    (first, *_) = [r for r in reg.requests if r.path == "/token"]
    assert first.authorization.username == "robot"  # type: ignore[union-attr]
    assert first.authorization.password == "s3cret"  # type: ignore[union-attr]


def test_registry_429_defers(httpserver: HTTPServer) -> None:
    reg = FakeRegistry(httpserver)
    reg.answer = Response("slow down", status=429, headers={"Retry-After": "600"})
    spec = spec_for(oci, registry_section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock(), max_attempts=1) as pool:
            with pytest.raises(RateLimited):
                await poll_once(oci, spec, pool, SourceState())

    run(go)


def test_registry_malformed_tag_quarantined_and_faults(httpserver: HTTPServer) -> None:
    reg = FakeRegistry(httpserver)
    reg.digests = {"v1": "sha256:" + "d" * 64, "bad tag!": "sha256:" + "e" * 64}
    spec = spec_for(oci, registry_section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock(), max_attempts=2) as pool:
            state = SourceState()
            base, _ = await poll_once(oci, spec, pool, state)
            assert base.fetched == 1 and [q.item_key for q in base.quarantined] == ["tag:bad tag!"]
            reg.answer = Response("<html>oops</html>", status=200, content_type="text/html")
            with pytest.raises(SourceError, match="HTML page"):
                await poll_once(oci, spec, pool, state)
            reg.answer = Response("down", status=503)
            with pytest.raises(SourceError, match="HTTP 503"):
                await poll_once(oci, spec, pool, state)
            assert state.cursor == {"tags": 1}  # nothing moved

    run(go)
