"""Shared by the end-to-end tests: the real `mrt-worker` and `mrt` as subprocesses, against
loopback fakes of every outside party. No tests live here.

- Upstreams: FakeGitHub / FakeHub / FakeModelScope from test_source_support (recorded payloads),
  each able to fail on demand (`Faults`).
- WeLink: FakeRobot from test_delivery_welink (checks token, channel, text length, timeStamp,
  uuid like the real robot) behind a `RobotScript` that fails on demand.
- Email: a real aiosmtpd server with STARTTLS and AUTH; the subprocess trusts its certificate
  through SSL_CERT_FILE (verification stays on).
- The config: share/examples/v0-config.json, rewritten only to point the sources' base URLs at
  loopback, the state file into tmp_path, and (where a test needs email) a v0 notify.email.
  With MRT_TEST_AI=1 it also carries an `ai` section turned on (summaries, triage, embeddings)
  at a session-wide fake OpenAI-compatible endpoint on loopback (ai_fake.start_session_fake).

WELINK_WEBHOOK_URL is the robot's own URL form on plain http
(`http://127.0.0.1:PORT/api/werobot/v1/webhook/send?token=...&channel=standard`): the channels
code maps an http webhook onto `welink://TOKEN@127.0.0.1:PORT/...?secure=no` by itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ai_fake import ai_on, ai_on_section
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from test_delivery_email import Mailbox, free_port, make_certificate
from test_delivery_welink import TOKEN, FakeRobot
from test_source_support import FakeGitHub, FakeHub, FakeModelScope, iso, recorded_issues
from werkzeug import Request, Response

from mrt.delivery.welink import DEFAULT_PATH

ROOT = Path(__file__).resolve().parent.parent
V0_EXAMPLE = ROOT / "share" / "examples" / "v0-config.json"
OFFLINE = Path(__file__).parent / "fixtures" / "e2e" / "offline"
BIN = Path(sys.executable).parent
SMTP_USER = "mrt-bot@example.org"
SMTP_PASSWORD = "s3cret-Pa$$word/with@signs"
MAIL_TO = "oncall@example.org"
SUBPROCESS_TIMEOUT = 90.0


def now_utc() -> datetime:
    # The worker runs on the real clock, so upstream changes are dated "now" to be news to it.
    return datetime.now(UTC).replace(microsecond=0)


# --- fault injection on the upstream fakes -----------------------------------------------------

@dataclass
class Faults:
    """An answer that replaces the fake's for every request while set (a 500 storm, a 429)."""

    answer: Callable[[], Response] | None = None
    hits: int = 0
    statuses: list[int] = field(default_factory=list)  # every answer, faults included

    def wrap(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            if self.answer is None:
                response = handler(request)
            else:
                self.hits += 1
                response = self.answer()
            self.statuses.append(response.status_code)
            return response

        return handle


class Upstreams:
    """The v0 example's four sources on one loopback server, each with its own fault switch."""

    def __init__(self, server: HTTPServer, *, hf_count: int = 5, ms_count: int = 5) -> None:
        from test_source_support import hf_models, ms_models

        old = datetime(2025, 11, 1, tzinfo=UTC)
        self.faults = {key: Faults() for key in (
            "github:vllm-project/vllm", "github:sgl-project/sglang",
            "huggingface:deepseek-ai", "modelscope:deepseek-ai")}
        # Register the fault wrappers first: pytest-httpserver answers with the first match.
        self.github = {
            repo: self._github(server, repo) for repo in ("vllm-project/vllm", "sgl-project/sglang")
        }
        self.hub = self._wrapped(server, "/api/models", "huggingface:deepseek-ai",
                                 lambda: FakeHub(_Unregistered(), hf_models("deepseek-ai", hf_count, old)))
        self.modelscope = self._wrapped(
            server, "/openapi/v1/models", "modelscope:deepseek-ai",
            lambda: FakeModelScope(_Unregistered(), ms_models("deepseek-ai", ms_count, old)))
        for fake in (*self.github.values(), self.hub, self.modelscope):
            fake.server = server  # Link headers are built from the real server's address

    def _github(self, server: HTTPServer, repo: str) -> FakeGitHub:
        return self._wrapped(server, f"/repos/{repo}/issues", f"github:{repo}",
                             lambda: FakeGitHub(_Unregistered(), repo, recorded_issues()))

    def _wrapped(self, server: HTTPServer, path: str, key: str, make: Callable[[], Any]) -> Any:
        fake = make()
        server.expect_request(path).respond_with_handler(self.faults[key].wrap(fake.handle))
        return fake

    def statuses(self) -> dict[str, list[int]]:
        """The HTTP status of every answer so far, per source."""
        return {key: list(faults.statuses) for key, faults in self.faults.items()}

    # upstream changes, dated now

    def open_issue(self, repo: str, number: int, title: str, *, pr: bool = False,
                   author: str | None = None) -> None:
        fake = self.github[repo]
        template = next(i for i in fake.issues if ("pull_request" in i) == pr)
        item = copy.deepcopy(template)
        at = iso(now_utc())
        item.update(number=number, id=9_000_000_000 + number, title=title, body=f"{title}.",
                    state="open", created_at=at, updated_at=at, closed_at=None,
                    state_reason=None, html_url=f"https://github.com/{repo}/issues/{number}")
        if pr:
            item["pull_request"] = dict(item["pull_request"], merged_at=None)
        if author is not None:
            item["user"] = dict(item["user"], login=author)
        fake.issues.append(item)

    def close_issue(self, repo: str, number: int, *, merged: bool = False) -> str:
        from test_source_support import close

        issue = self.github[repo].issue(number)
        close(issue, now_utc(), merged=merged)
        return str(issue["title"])

    def add_hf_model(self, name: str) -> None:
        model = copy.deepcopy(self.hub.models[0])
        at = now_utc().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        model.update(id=f"deepseek-ai/{name}", modelId=f"deepseek-ai/{name}", lastModified=at,
                     createdAt=at, sha=hashlib.sha1(name.encode()).hexdigest())
        self.hub.models.append(model)

    def add_ms_model(self, name: str) -> None:
        model = copy.deepcopy(self.modelscope.models[0])
        at = iso(now_utc())
        model.update(id=f"deepseek-ai/{name}", display_name=name, last_modified=at,
                     created_at=at)
        self.modelscope.models.append(model)


class _Unregistered:
    """A stand-in server for building a fake without registering its handler (we wrap it)."""

    def expect_request(self, *args: Any, **kwargs: Any) -> _Unregistered:
        return self

    def respond_with_handler(self, handler: Any) -> None:
        return None


# --- WeLink ------------------------------------------------------------------------------------

@dataclass
class RobotScript:
    """What the fake robot answers: `fail_next(n)` failures, or `always` until `recover()`."""

    failures_left: int = 0
    always: bool = False
    failure: Callable[[], Response] = lambda: Response("robot down", status=500)

    def answer(self) -> Response:
        if self.always or self.failures_left > 0:
            self.failures_left = max(0, self.failures_left - 1)
            return self.failure()
        return Response(json.dumps({"code": "0", "data": "success", "message": "ok"}),
                        content_type="application/json")


def install_robot(server: HTTPServer) -> tuple[FakeRobot, RobotScript]:
    script = RobotScript()
    robot = FakeRobot(answer=script.answer)
    server.expect_request(DEFAULT_PATH, method="POST").respond_with_handler(robot.handle)
    return robot, script


def robot_texts(robot: FakeRobot) -> list[str]:
    """Every text the robot was sent (failed calls included)."""
    return [body["content"]["text"] for body in robot.received]


# --- email -------------------------------------------------------------------------------------

@dataclass
class SmtpSink:
    port: int
    mailbox: Mailbox
    cert: Path


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    cert, key = make_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=tls,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=mailbox.authenticate)
    controller.start()
    try:
        yield SmtpSink(port=port, mailbox=mailbox, cert=cert)
    finally:
        controller.stop()


# --- the config and the processes --------------------------------------------------------------

def loopback_config(
    tmp_path: Path,
    server: HTTPServer,
    *,
    smtp: SmtpSink | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """The v0 example, pointed at loopback: base URLs, the state file, optionally email."""
    data = json.loads(V0_EXAMPLE.read_text(encoding="utf-8"))
    base = server.url_for("/").rstrip("/")
    for section in data["sources"].values():
        section["base_url"] = base
    data["state"]["sqlite_path"] = str(tmp_path / "mrt_state.sqlite3")
    if smtp is not None:
        data["notify"]["email"] = {
            "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "user_env": "MRT_SMTP_USER",
            "password_env": "MRT_SMTP_PASSWORD", "to_list": [MAIL_TO], "use_tls": True,
        }
    if ai_on():  # MRT_TEST_AI=1: the same run with AI on (a test's own `ai` in extra wins)
        data["ai"] = ai_on_section()
    data.update(extra or {})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def base_env(home: Path) -> dict[str, str]:
    """A clean environment: a private home, the offline guard, nothing from the test runner."""
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONPATH": str(OFFLINE),
        "LANG": "C.UTF-8",
    }


@dataclass
class Product:
    """Runs the installed `mrt-worker` and `mrt` the way a user (or cron) does."""

    config: Path | None
    env: dict[str, str]
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if ai_on() and self.config is not None:
            with_ai_section(self.config)
        started = time.monotonic()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=SUBPROCESS_TIMEOUT, cwd=self.env["HOME"], check=False)
        self.runs.append(done)
        self.seconds.append(time.monotonic() - started)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def _config_args(self) -> list[str]:
        return ["--config", str(self.config)] if self.config is not None else []

    def worker_once(self, *, expect: int | tuple[int, ...] = 0) -> subprocess.CompletedProcess[str]:
        """`expect` may list several codes: 0 or 4 for a run whose retries may or may not be due
        yet (4: a delivery of the run ended retrying or dead)."""
        done = self._run([installed_tool("mrt-worker"), *self._config_args(), "--once"])
        codes = (expect,) if isinstance(expect, int) else expect
        assert done.returncode in codes, (done.returncode, done.stdout, done.stderr)
        return done

    def python_m_once(self, *, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """v0's way from cron: `python -m mrt --config FILE --once`."""
        done = self._run([sys.executable, "-m", "mrt", *self._config_args(), "--once"])
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        return done

    def mrt(self, *argv: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = self._run([installed_tool("mrt"), *argv])
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        return done

    def mrt_json(self, *argv: str, expect: int = 0) -> Any:
        return json.loads(self.mrt(*argv, *self._config_args(), "--json", expect=expect).stdout)

    def sources(self) -> dict[str, dict[str, Any]]:
        return {row["key"]: row for row in self.mrt_json("sources")["sources"]}

    def outbox(self, *argv: str, expect: int = 0) -> list[dict[str, Any]]:
        """`mrt outbox --json`: exits 4 when it lists a dead delivery."""
        listed = self.mrt_json("outbox", "--limit", "500", *argv, expect=expect)
        rows: list[dict[str, Any]] = listed["deliveries"]
        return rows

    def trace(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = self.mrt_json("trace", ref)
        return result


def with_ai_section(config: Path) -> None:
    """MRT_TEST_AI=1: a config a test wrote itself (v1 TOML, v0 JSON) gets the harness's `ai`
    section on, unless it has an `ai` section of its own or does not parse (its test is about
    that). Appended to TOML, so the test's own text stays as it wrote it. Only files outside
    the repository (a test's tmp_path): the shipped examples are never touched."""
    if ROOT in config.resolve().parents:
        return
    try:
        text = config.read_text(encoding="utf-8")
        data = json.loads(text) if config.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or "ai" in data:
        return
    if config.suffix == ".json":
        data["ai"] = ai_on_section()
        config.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return
    lines = [f"{key} = {json.dumps(value)}" for key, value in ai_on_section().items()]
    config.write_text(text.rstrip("\n") + "\n\n[ai]\n" + "\n".join(lines) + "\n",
                      encoding="utf-8")


def installed_tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed next to {sys.executable}"
    return found


def cycle_report(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, int, int]]:
    """The worker's --once summary: {source_key: (outcome, new events, alerts)}."""
    report = {}
    for line in done.stdout.splitlines():
        key, _, rest = line.partition(": ")
        parts = rest.split(", ")
        if len(parts) >= 3 and parts[1].endswith(" new events"):
            report[key] = (parts[0], int(parts[1].split()[0]), int(parts[2].split()[0]))
    return report


def statuses_since(before: dict[str, list[int]], after: dict[str, list[int]]
                   ) -> dict[str, list[int]]:
    return {key: after[key][len(before[key]):] for key in after}


def count_rows(db_file: Path, table: str) -> int:
    """A row count straight from the SQLite file (read-only), as an outside observer sees it."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        (count,) = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(count)


def latest_metrics(db_file: Path) -> dict[str, dict[str, Any]]:
    """Each source's newest per-cycle figures (the cycle_metric table the TUI reads)."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM cycle_metric ORDER BY id").fetchall()
    latest = {row["source_key"]: dict(row) for row in rows}
    for row in latest.values():
        row["http_statuses"] = json.loads(row["http_statuses"] or "{}")
    return latest


def wait_for(condition: Callable[[], bool], *, deadline_seconds: float, step: Callable[[], None]
             ) -> None:
    """Repeat `step` until `condition` holds, or fail at the deadline (never a blind sleep)."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        step()


def product_env(home: Path, server: HTTPServer, smtp: SmtpSink | None = None) -> dict[str, str]:
    env = base_env(home)
    env.update({
        "WELINK_WEBHOOK_URL": server.url_for(DEFAULT_PATH) + f"?token={TOKEN}&channel=standard",
        "GITHUB_TOKEN": "ghp_e2e_fake_token",
        "HF_TOKEN": "hf_e2e_fake_token",
    })
    if smtp is not None:
        env.update({"MRT_SMTP_USER": SMTP_USER, "MRT_SMTP_PASSWORD": SMTP_PASSWORD,
                    "SSL_CERT_FILE": str(smtp.cert)})
    return env
