"""The v0 corpus (issue 18): every config v0 ran, MRT runs, with the same meaning.

Each file in tests/fixtures/v0 (its README says which line of v0's guide or code path it comes
from) goes through what a user runs:

1. `mrt check --config FILE` through the real entry point: exit 0, and exactly the warnings
   the case expects (a v0 value MRT runs its own way is a warning, never a refusal);
2. `mrt-worker --config FILE --once` (worker.main.main) twice against loopback fakes shared by
   the whole module (GitHub, Hugging Face, ModelScope and the WeLink robot on one
   pytest-httpserver, email on one aiosmtpd): a baseline cycle, then a matching issue and pull
   request appear upstream and the second cycle delivers them to the channels the file names.

The loopback copy of a file differs only in what points at the fakes (each source's base_url,
the SMTP host and port) and in `delivery.min_interval_seconds = 0`, so that two alerts to one
robot do not wait 3 s for each other.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer
from test_delivery_email import PASSWORD, USER, Mailbox, free_port, make_certificate
from test_delivery_welink import TOKEN, FakeRobot
from test_e2e_support import ROOT, Upstreams, install_robot

from mrt.cli import main as mrt_main
from mrt.config.v0 import MAX_INTERVAL_SECONDS, default_sender
from mrt.delivery.welink import DEFAULT_PATH
from worker.main import main as worker_main

CORPUS = Path(__file__).parent / "fixtures" / "v0"
FILES = sorted(CORPUS.glob("*.json"))
LOGIN_NAME = "svc-mrt"  # a login name that is not an email address
RECIPIENT = "ops@example.com"
KEYS = ("github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
        "modelscope:deepseek-ai")
# loopback: the four sources share one host and its default budget (120 requests a minute)
LOOPBACK_FLOOR = timedelta(seconds=len(KEYS) * 60 / 120)


@dataclass(frozen=True)
class Case:
    """What one file means: the warnings `mrt check` prints and what the changes reach."""

    warnings: frozenset[str] = frozenset()  # dotted paths of the `warn` lines
    welink: bool = True  # the matching changes reach the robot
    email_from: str | None = None  # the sender the SMTP server sees; None: no email
    login: str | None = None  # the SMTP login, None: none
    alerts: bool = True  # False: v0 had no keyword, so nothing alerts (the events are stored)
    pulls: bool = True  # the matching pull request alerts (watched, and a keyword matches)
    mentions: tuple[str, ...] = ()
    mention_all: bool = False
    interval: timedelta = timedelta(seconds=300)  # next poll - this poll, for every source
    keys: tuple[str, ...] = KEYS  # the sources that poll


def warns(*paths: str) -> frozenset[str]:
    return frozenset(paths)


SENDER = "notify.email.from_addr"
CASES: dict[str, Case] = {
    "guide_example": Case(),
    "every_key": Case(email_from=USER, login=USER, mentions=("u100",)),
    "defaults_omitted": Case(alerts=False),
    "defaults_omitted_with_keywords": Case(warnings=warns(SENDER), email_from="default"),
    "email_internal_relay": Case(warnings=warns(SENDER), email_from="default"),
    "email_relay_only": Case(warnings=warns(SENDER), welink=False, email_from="default"),
    "email_no_login_keys": Case(warnings=warns(SENDER), email_from="default"),
    "email_login_defaults": Case(welink=False, email_from=USER, login=USER),
    "email_login_not_an_address": Case(
        warnings=warns(SENDER), welink=False, email_from="default", login=LOGIN_NAME
    ),
    "email_password_without_user": Case(
        warnings=warns("notify.email.password_env", SENDER), email_from="default"
    ),
    "email_empty_to_list": Case(warnings=warns("notify.email.to_list")),
    "interval_5": Case(warnings=warns("poll_interval_seconds"), interval=timedelta(seconds=5)),
    # an interval of 0 asks more of every host than its budget allows: mrt check says so too
    "interval_0": Case(warnings=warns("poll_interval_seconds", "budget"), interval=LOOPBACK_FLOOR),
    "interval_huge": Case(
        warnings=warns("poll_interval_seconds"), interval=timedelta(seconds=MAX_INTERVAL_SECONDS)
    ),
    "token_env_empty": Case(
        warnings=warns("sources.github.token_env", "sources.huggingface.token_env")
    ),
    "token_env_omitted": Case(),
    "monitor_issues_only": Case(pulls=False),
    "monitor_partial": Case(),
    "empty_org_list": Case(
        warnings=warns("sources.huggingface.orgs"),
        keys=tuple(k for k in KEYS if not k.startswith("huggingface")),
    ),
    "webhook_env_empty": Case(warnings=warns("notify.welink.webhook_env")),
    "welink_is_at_without_accounts": Case(warnings=warns("notify.welink.is_at")),
    "welink_mentions": Case(mentions=("u100", "u200"), mention_all=True),
    "state_omitted": Case(),
    "sqlite_path_empty": Case(warnings=warns("state.sqlite_path")),
    "watch_keywords_empty_string": Case(warnings=warns("watch_keywords[0]"), pulls=False),
    "watch_keywords_empty": Case(alerts=False),
    "notify_omitted": Case(warnings=warns("channels"), welink=False),
    "null_optionals": Case(
        warnings=warns(
            "sources.github.token_env",
            "sources.huggingface.token_env",
            "notify.welink.webhook_env",
            SENDER,
        ),
        email_from="default",
    ),
    "string_values": Case(),
}


class CorpusMailbox(Mailbox):
    """Accepts any login with the right password (a login may be a bare name, as in v0)."""

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append(auth_data.login.decode())
        return AuthResult(success=auth_data.password.decode() == PASSWORD, handled=False)


@dataclass
class Fakes:
    server: HTTPServer
    up: Upstreams
    robot: FakeRobot
    mailbox: CorpusMailbox
    smtp_port: int
    cert: Path
    numbers: Iterator[int] = field(default_factory=lambda: count(70001, 2))


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    server = HTTPServer(host="127.0.0.1", port=free_port())
    server.start()
    up = Upstreams(server)
    robot, _ = install_robot(server)
    cert, key = make_certificate(tmp_path_factory.mktemp("smtp"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = CorpusMailbox()
    port = free_port()
    # an internal relay takes plain SMTP without a login; a login needs STARTTLS first
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=tls,
                            require_starttls=False, auth_required=False, auth_require_tls=True,
                            authenticator=mailbox.authenticate)
    controller.start()
    try:
        yield Fakes(server, up, robot, mailbox, port, cert)
    finally:
        controller.stop()
        server.clear()
        server.stop()


@pytest.fixture
def user_env(fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's shell: the variables the corpus names, a private home, the case's directory."""
    for name in ("MRT_CONFIG", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for sub in ("config", "data", "state", "cache"):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(f"XDG_{sub.upper()}_HOME", str(tmp_path / sub))
    monkeypatch.setenv("HOME", str(tmp_path))
    webhook = fakes.server.url_for(DEFAULT_PATH) + f"?token={TOKEN}&channel=standard"
    monkeypatch.setenv("WELINK_WEBHOOK_URL", webhook)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_corpus_fake_token")
    monkeypatch.setenv("HF_TOKEN", "hf_corpus_fake_token")
    monkeypatch.setenv("MRT_SMTP_USER", USER)
    monkeypatch.setenv("MRT_SMTP_LOGIN", LOGIN_NAME)
    monkeypatch.setenv("MRT_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SSL_CERT_FILE", str(fakes.cert))  # trust the fake's certificate
    monkeypatch.chdir(tmp_path)  # v0's relative ./mrt_state.sqlite3 lands here
    return tmp_path


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The worker's entry point configures the root logger; give the next test its own back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def loopback_copy(file: Path, fakes: Fakes, directory: Path) -> Path:
    data = json.loads(file.read_text(encoding="utf-8"))
    base = fakes.server.url_for("/").rstrip("/")
    for section in data.get("sources", {}).values():
        section["base_url"] = base
    email = data.get("notify", {}).get("email")
    if email is not None:
        email.update(smtp_host="127.0.0.1", smtp_port=fakes.smtp_port)
    # the robot's spacing (3 s a target) would make each case wait; the e2e tests do the same
    data["delivery"] = {"min_interval_seconds": 0}
    path = directory / "loopback.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run_once(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`mrt-worker --config FILE --once`; its summary: {source key: 'ok, N new events, M alerts'}."""
    code = worker_main(["--config", str(config), "--once"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "Traceback" not in err
    assert "deliveries: " in out and "NOT ALL DELIVERED" not in out  # exit 0: all delivered
    sources = [line for line in out.splitlines() if not line.startswith("deliveries: ")]
    return dict(line.split(": ", 1) for line in sources if ": " in line)


def text_of(message: EmailMessage) -> str:
    return " ".join(str(part.get_content()) for part in message.walk()
                    if part.get_content_maintype() == "text")


def poll_intervals(home: Path) -> set[timedelta]:
    db = home / "mrt_state.sqlite3"
    if not db.exists():
        db = home / "data" / "mrt" / "mrt.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT last_poll_at, next_poll_at FROM source_state").fetchall()
    return {datetime.fromisoformat(nxt) - datetime.fromisoformat(last) for last, nxt in rows}


def test_every_file_has_a_case_and_a_note() -> None:
    names = [f.stem for f in FILES]
    assert names and set(names) == set(CASES)
    notes = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert [n for n in names if f"`{n}.json`" not in notes] == []


def test_the_guide_example_is_the_shipped_v0_example() -> None:
    shipped = json.loads((ROOT / "share" / "examples" / "v0-config.json").read_text())
    assert json.loads((CORPUS / "guide_example.json").read_text()) == shipped


@pytest.mark.parametrize("file", FILES, ids=[f.stem for f in FILES])
def test_a_v0_file_checks_clean_and_runs_a_cycle_that_delivers(
    file: Path, fakes: Fakes, user_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[file.stem]

    code = mrt_main(["check", "--config", str(file)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    warned = {ln.split()[1].rstrip(":") for ln in out.splitlines() if ln.startswith("warn ")}
    assert warned == case.warnings, out
    assert "not shown: it may hold a secret" not in out + err

    config = loopback_copy(file, fakes, user_env)
    baseline = run_once(config, capsys)
    assert sorted(baseline) == sorted(case.keys)
    assert all(v.startswith("ok, ") and v.endswith(" 0 alerts") for v in baseline.values())
    assert poll_intervals(user_env) == {case.interval}

    robot_before, mail_before = len(fakes.robot.received), len(fakes.mailbox.messages)
    logins_before = len(fakes.mailbox.logins)
    number = next(fakes.numbers)
    issue, pull = f"DeepSeek corpus {file.stem} issue", f"Qwen corpus {file.stem} pull"
    fakes.up.open_issue("vllm-project/vllm", number, issue)
    fakes.up.open_issue("sgl-project/sglang", number + 1, pull, pr=True)
    report = run_once(config, capsys)

    delivered = [issue, pull] if case.pulls else [issue]
    alerts = len(delivered) if case.alerts else 0
    github = [report["github:vllm-project/vllm"], report["github:sgl-project/sglang"]]
    assert sum(int(r.split(", ")[2].split()[0]) for r in github) == alerts, report
    assert report["github:vllm-project/vllm"].startswith("ok, 1 new events")

    texts = [body["content"]["text"] for body in fakes.robot.received[robot_before:]]
    if case.welink and case.alerts:
        assert sorted(t for t in (issue, pull) if any(t in x for x in texts)) == sorted(delivered)
        assert len(texts) == len(delivered)
        for body in fakes.robot.received[robot_before:]:
            assert body["isAt"] is bool(case.mentions)
            assert body["atAccounts"] == list(case.mentions)
            assert body["isAtAll"] is case.mention_all
    else:
        assert texts == []
    assert fakes.robot.problems == []

    mails = fakes.mailbox.messages[mail_before:]
    if case.email_from is not None and case.alerts:
        sender = default_sender() if case.email_from == "default" else case.email_from
        assert len(mails) == len(delivered)
        for rcpt, message in mails:
            assert rcpt == [RECIPIENT] and sender in str(message["From"])
        bodies = " ".join(text_of(m) for _, m in mails)
        assert all(title in bodies for title in delivered)
        assert fakes.mailbox.logins[logins_before:] == ([case.login] * len(mails) if case.login
                                                        else [])
    else:
        assert mails == []
