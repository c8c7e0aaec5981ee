"""GitHub webhook deliveries (webhooks.github) over real loopback HTTP to the worker's listener:
verified (HMAC SHA-256, constant-time), deduplicated by delivery id, capped in size, and turned
into the very events a poll makes of the same change, so that a change told by a webhook is not
told again by the poll that follows (nor the other way round). Polling is the real loopback
GitHub (issues, releases, tags); alerts go through the real sender to a loopback JSON webhook.

The worker is built from a config file by the same `build_runtime` as `mrt-worker`, and its
listener opened by the same `open_webhooks` the daemon opens.
"""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_delivery_email import free_port
from test_e2e_support import SUBPROCESS_TIMEOUT, base_env, installed_tool, wait_for
from test_fleet_support import race
from test_replay_support import Sink
from test_source_github_releases import FakeList, new_release, recorded_releases, recorded_tags
from test_source_support import FakeClock, FakeGitHub, close, iso, load, make_pool, recorded_issues

from mrt.store import pushed
from mrt.store.models import Alert, Event, WebhookDelivery
from worker.assembly import Runtime, build_runtime
from worker.main import main as worker_main
from worker.runtime import run_once
from worker.webhooks import open_webhooks, signature_of

REPO = "PyGithub/PyGithub"
SECRET = "hook-s3cret-value"
ENV = {"GH_HOOK_SECRET": SECRET, "GITHUB_TOKEN": "ghp_fake_token"}


def envelope(name: str, **fields: Any) -> dict[str, Any]:
    """A documented payload (tests/fixtures/upstream/github/webhooks) for our repository."""
    payload: dict[str, Any] = load(f"github/webhooks/{name}.json")
    payload["repository"] = dict(payload["repository"], full_name=REPO, name=REPO.split("/")[1])
    payload.update(fields)
    return payload


def pull_object(listed: dict[str, Any]) -> dict[str, Any]:
    """A pull request as the `pull_request` delivery carries it (GET /pulls/{n}'s shape)."""
    pull = {k: v for k, v in copy.deepcopy(listed).items() if k != "pull_request"}
    merged_at = listed["pull_request"].get("merged_at")
    pull.update(id=listed["id"] + 1, merged=merged_at is not None, merged_at=merged_at)
    return pull


class Upstream:
    def __init__(self, server: HTTPServer) -> None:
        self.issues = FakeGitHub(server, REPO, recorded_issues()).issues
        self.releases = recorded_releases()
        self.tags = recorded_tags()
        FakeList(server, "releases", self.releases, repo=REPO)
        FakeList(server, "tags", self.tags, repo=REPO)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The config's `state`: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return {"sqlite_path": str(tmp_path / "mrt.sqlite3")}
    return {"url": request.getfixturevalue("fresh_pg_url")}


def write_config(tmp_path: Path, server: HTTPServer, port: int,
                 state: dict[str, Any] | None = None, **hook: Any) -> Path:
    data = {
        "watch_keywords": ["deepseek"],
        "sources": {"github": {
            "repos": [REPO], "base_url": server.url_for("/"), "token_env": "GITHUB_TOKEN",
            "monitor": {"issues": True, "pulls": True, "releases": True, "tags": True}}},
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "delivery": {"min_interval_seconds": 0},
        "state": state or {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "webhooks": {"github": {"listen": f"127.0.0.1:{port}", "secret_env": "GH_HOOK_SECRET",
                                **hook}},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class Hook:
    """GitHub's side: signs and posts deliveries to the listener."""

    def __init__(self, client: httpx.AsyncClient, port: int) -> None:
        self.client, self.url = client, f"http://127.0.0.1:{port}/github"

    async def send(self, event: str, payload: Any, *, delivery: str | None = None,
                   secret: str = SECRET, url: str | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "X-Hub-Signature-256": signature_of(secret.encode(), body),
                   "Content-Type": "application/json"}
        return await self.client.post(url or self.url, content=body, headers=headers)


def with_worker(tmp_path: Path, server: HTTPServer, scenario: Callable[[Runtime, Hook],
                Awaitable[None]], state: dict[str, Any] | None = None, **hook: Any) -> None:
    port = free_port()
    config = write_config(tmp_path, server, port, state, **hook)

    async def run() -> None:
        rt = await build_runtime(str(config), env=ENV, pool=make_pool(FakeClock()))
        listener = await open_webhooks(rt.config, rt.env, lambda: (rt.engine, rt.scheduler.specs))
        assert listener is not None
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                await scenario(rt, Hook(client, port))
        finally:
            listener.close()
            await listener.wait_closed()
            rt.db.close()

    asyncio.run(run())


def now_iso() -> str:
    return iso(datetime.now(UTC).replace(microsecond=0))


def new_issue(up: Upstream, number: int, title: str) -> dict[str, Any]:
    item = copy.deepcopy(next(i for i in up.issues if "pull_request" not in i))
    at = now_iso()
    item.update(number=number, id=9_000_000 + number, title=title, state="open",
                created_at=at, updated_at=at, closed_at=None, state_reason=None)
    up.issues.append(item)
    return item


def test_webhooks_tell_each_change_once_and_the_poll_after_them_adds_nothing(
    tmp_path: Path, httpserver: HTTPServer, state: dict[str, Any]
) -> None:
    up = Upstream(httpserver)
    sink = Sink(httpserver)

    async def scenario(rt: Runtime, hook: Hook) -> None:
        baseline = await run_once(rt)
        assert {r.source_key: (r.outcome, r.new_events) for r in baseline} == {
            f"github:{REPO}": ("ok", 0), f"github-releases:{REPO}": ("ok", 0),
            f"github-tags:{REPO}": ("ok", 0)}

        issue = new_issue(up, 90001, "Support DeepSeek-V9 in the client")
        first = await hook.send("issues", envelope("issues-opened", issue=issue),
                                delivery="d-issue")
        assert (first.status_code, first.text) == (200, "1 new events, 1 alerts")
        again = await hook.send("issues", envelope("issues-opened", issue=issue),
                                delivery="d-issue")
        assert (again.status_code, again.text) == (200, "duplicate delivery: already done")

        pr = next(i for i in up.issues if "pull_request" in i and i["state"] == "open")
        pr["title"] = "DeepSeek tokenizer support"
        close(pr, datetime.now(UTC).replace(microsecond=0), merged=True)
        merged = await hook.send("pull_request", envelope(
            "pull_request-closed", number=pr["number"], pull_request=pull_object(pr)))
        assert (merged.status_code, merged.text) == (200, "1 new events, 1 alerts")

        release = new_release(up.releases[0], 99, "v9.9.0")
        release["name"] = "v9.9.0: DeepSeek-V9"
        up.releases.insert(0, release)
        published = await hook.send("release", envelope("release-published", release=release))
        assert (published.status_code, published.text) == (200, "1 new events, 1 alerts")

        sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
        up.tags.insert(0, {"name": "v9.9.0", "commit": {"sha": sha, "url": ""},
                           "zipball_url": "", "tarball_url": "", "node_id": "x"})
        tagged = await hook.send("push", envelope("push-tag", ref="refs/tags/v9.9.0", after=sha))
        assert (tagged.status_code, tagged.text) == (200, "1 new events, 0 alerts")

        # the poll reads the same four changes upstream: all already stored
        after = await run_once(rt)
        assert [(r.outcome, r.new_events, r.alerts) for r in after] == [("ok", 0, 0)] * 3

    with_worker(tmp_path, httpserver, scenario, state)
    assert Event.select().count() == 4 and Alert.select().count() == 3
    texts = [json.dumps(body) for body in sink.received]
    for title in ("Support DeepSeek-V9 in the client", "DeepSeek tokenizer support",
                  "v9.9.0: DeepSeek-V9"):
        assert sum(title in text for text in texts) == 1, (title, texts)
    assert WebhookDelivery.select().count() == 4


def test_a_change_the_poll_told_first_is_not_told_again_by_its_webhook(
    tmp_path: Path, httpserver: HTTPServer, state: dict[str, Any]
) -> None:
    up = Upstream(httpserver)
    Sink(httpserver)

    async def scenario(rt: Runtime, hook: Hook) -> None:
        await run_once(rt)
        issue = new_issue(up, 90002, "DeepSeek-V9 crashes on load")
        [polled] = [r for r in await run_once(rt) if r.source_key == f"github:{REPO}"]
        assert (polled.new_events, polled.alerts) == (1, 1)
        late = await hook.send("issues", envelope("issues-opened", issue=issue))
        assert (late.status_code, late.text) == (200, "0 new events, 0 alerts")

    with_worker(tmp_path, httpserver, scenario, state)
    assert Alert.select().count() == 1


def test_two_workers_receiving_one_delivery_act_on_it_once(store_db: peewee.Database) -> None:
    at = datetime.now(UTC)
    first, second = race(
        store_db,
        lambda: pushed.claim_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "github", "issues", at),
        lambda: pushed.claim_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "github", "issues", at),
    )
    assert (first, second) == (True, False)


def test_unverified_oversized_or_unusable_deliveries_change_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstream(httpserver)

    async def scenario(rt: Runtime, hook: Hook) -> None:
        ping = await hook.send("ping", {"zen": "Keep it logically awesome."})
        assert (ping.status_code, ping.text) == (200, "pong")
        issue = new_issue(up, 90003, "DeepSeek before the baseline")
        early = await hook.send("issues", envelope("issues-opened", issue=issue))
        assert (early.status_code, early.text) == (
            202, f"ignored: github:{REPO} has not been polled yet")
        await run_once(rt)
        payload = envelope("issues-opened", issue=new_issue(up, 90004, "DeepSeek forged"))
        forged = await hook.send("issues", payload, secret="not-the-secret")
        assert (forged.status_code, forged.text) == (401, "signature does not match")
        big = await hook.send("issues", b"{" + b" " * 20_000 + b"}")
        assert big.status_code == 413 and "16384 bytes" in big.text
        wrong_path = await hook.send("issues", payload, url=hook.url + "/x")
        assert wrong_path.status_code == 404
        assert (await hook.client.get(hook.url)).status_code == 405
        starred = await hook.send("star", {"action": "created"})
        assert (starred.status_code, starred.text) == (202, "ignored: MRT takes no star events")
        other = envelope("issues-opened", issue=issue)
        other["repository"]["full_name"] = "someone/else"
        assert (await hook.send("issues", other)).status_code == 202
        assert (await hook.send("issues", b"not json")).status_code == 400
        broken = await hook.send("issues", envelope("issues-opened", issue={"title": "x"}))
        assert broken.status_code == 422 and "number" in broken.text

    with_worker(tmp_path, httpserver, scenario, max_body_bytes=16384)
    assert Event.select().count() == 0
    assert WebhookDelivery.select().count() == 0


def test_a_missing_secret_stops_the_worker_with_the_field_named(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Upstream(httpserver)
    config = write_config(tmp_path, httpserver, free_port())
    monkeypatch.delenv("GH_HOOK_SECRET", raising=False)
    assert worker_main(["--config", str(config), "--daemon"]) == 2
    err = capsys.readouterr().err
    assert "webhooks.github.secret_env" in err and "GH_HOOK_SECRET" in err
    assert "Traceback" not in err


def test_a_listen_address_that_is_not_host_port_is_a_config_error(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, httpserver, 1)
    data = json.loads(config.read_text())
    data["webhooks"]["github"]["listen"] = "8787"
    config.write_text(json.dumps(data))
    assert worker_main(["--config", str(config), "--once"]) == 2
    err = capsys.readouterr().err
    assert "webhooks.github.listen" in err and "host:port" in err


def test_the_daemon_tells_a_webhook_change_long_before_its_next_poll(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The real `mrt-worker --daemon`: after the baseline the next poll is 300 s away; a signed
    delivery is in the chat within seconds, and SIGTERM still stops the worker cleanly."""
    up = Upstream(httpserver)
    sink = Sink(httpserver)
    port = free_port()
    config = write_config(tmp_path, httpserver, port)
    db_file = tmp_path / "mrt.sqlite3"
    env = {**base_env(tmp_path / "home"), **ENV}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([installed_tool("mrt-worker"), "--config", str(config), "--daemon"],
                              env=env, cwd=env["HOME"], stdout=log, stderr=subprocess.STDOUT)

    def step() -> None:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        time.sleep(0.2)

    try:
        wait_for(lambda: polled(db_file) == 3, deadline_seconds=60, step=step)
        issue = new_issue(up, 90005, "DeepSeek-V9 webhook latency")
        body = json.dumps(envelope("issues-opened", issue=issue)).encode()
        sent = time.monotonic()
        answer = httpx.post(f"http://127.0.0.1:{port}/github", content=body, headers={
            "X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature_of(SECRET.encode(), body)}, timeout=10)
        assert (answer.status_code, answer.text) == (200, "1 new events, 1 alerts")
        wait_for(lambda: any("webhook latency" in json.dumps(b) for b in sink.received),
                 deadline_seconds=30, step=step)
        assert time.monotonic() - sent < 30
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            raise
        finally:
            log.close()
    output = (tmp_path / "worker.log").read_text()
    assert code == 0 and "Traceback" not in output, output
    assert SECRET not in output


def polled(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM source_state WHERE cursor IS NOT NULL").fetchone()
    except sqlite3.OperationalError:  # the worker is still creating the schema
        return 0
    return int(count)
