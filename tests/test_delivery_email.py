"""v0 notify.email end to end: Apprise mailtos:// against a real aiosmtpd server on loopback.

The server requires STARTTLS before AUTH (LOGIN/PLAIN), with a certificate made here for
127.0.0.1. The client verifies it (product code never turns verification off): the test makes
this process trust the certificate through SSL_CERT_FILE, which OpenSSL's default verify paths
(ssl.create_default_context, as Apprise's SMTP controller uses) read at connection time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mrt.config import Config, EmailV0, NotifyV0, default_sender
from mrt.delivery import channels
from mrt.delivery.base import Message, Target
from mrt.errors import MissingSecretError

USER = "mrt-bot@example.org"
PASSWORD = "s3cret-Pa$$word/with@signs"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_at_auth: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.tls_at_auth.append(session.ssl is not None)
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append(auth_data.login.decode())
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    cert: Path


@pytest.fixture
def smtp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    cert, key = make_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticate,
    )
    controller.start()
    # Trust this test's certificate for verification (never verify=no).
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        yield SmtpServer(port=port, mailbox=mailbox, cert=cert)
    finally:
        controller.stop()


def email_config(port: int, **overrides: Any) -> Config:
    section: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "user_env": "MRT_SMTP_USER",
        "password_env": "MRT_SMTP_PASSWORD",
        "to_list": ["oncall@example.org", "lead@example.org"],
        "use_tls": True,
    }
    section.update(overrides)
    return Config(notify=NotifyV0(email=EmailV0(**section)))


ENV = {"MRT_SMTP_USER": USER, "MRT_SMTP_PASSWORD": PASSWORD}


def email_target(port: int, **overrides: Any) -> Target:
    (target,) = channels.resolve_targets(email_config(port, **overrides), ENV)["email"]
    return target


def test_email_over_starttls_with_auth_reaches_every_recipient(smtp_server: SmtpServer) -> None:
    target = email_target(smtp_server.port)
    message = Message(
        subject="[MRT] New model: deepseek-ai/DeepSeek-V4",
        body="New model in deepseek-ai on Hugging Face\nhttps://huggingface.co/deepseek-ai/x",
    )

    outcome = asyncio.run(channels.send(target, message, timeout=10))

    assert outcome.ok, outcome
    assert smtp_server.mailbox.logins == [USER]
    assert smtp_server.mailbox.tls_at_auth == [True]
    received = {tuple(rcpts): msg for rcpts, msg in smtp_server.mailbox.messages}
    assert set(received) == {("oncall@example.org",), ("lead@example.org",)}
    for rcpts, msg in received.items():
        assert msg["Subject"] == "[MRT] New model: deepseek-ai/DeepSeek-V4"
        assert msg["From"].addresses[0].addr_spec == USER  # from_addr defaults to the user
        assert msg["To"].addresses[0].addr_spec == rcpts[0]
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        assert "https://huggingface.co/deepseek-ai/x" in body.get_content()


def test_email_from_addr_overrides_the_user(smtp_server: SmtpServer) -> None:
    target = email_target(smtp_server.port, from_addr="alerts@example.org")

    assert asyncio.run(channels.send(target, Message("s", "b"), timeout=10)).ok

    for _, msg in smtp_server.mailbox.messages:
        assert msg["From"].addresses[0].addr_spec == "alerts@example.org"


def test_an_untrusted_certificate_fails_and_nothing_is_sent(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other, _ = make_certificate(other_dir)  # a different, unrelated self-signed certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    target = email_target(smtp_server.port)

    outcome = asyncio.run(channels.send(target, Message("s", "b"), timeout=10))

    assert not outcome.ok and outcome.retryable
    # The TLS handshake was refused before AUTH: no login reached the server.
    assert outcome.error_class == "ConnectionError"
    assert smtp_server.mailbox.messages == [] and smtp_server.mailbox.logins == []
    assert PASSWORD not in (outcome.message or "")


def test_a_wrong_password_fails_without_leaking_it(smtp_server: SmtpServer) -> None:
    (target,) = channels.resolve_targets(
        email_config(smtp_server.port), {**ENV, "MRT_SMTP_PASSWORD": "wrong-password-123"}
    )["email"]

    outcome = asyncio.run(channels.send(target, Message("s", "b"), timeout=10))

    assert not outcome.ok
    # smtplib tries each mechanism the server offers: each reached AUTH over TLS and was refused
    assert set(smtp_server.mailbox.logins) == {USER}
    assert all(smtp_server.mailbox.tls_at_auth)
    assert smtp_server.mailbox.messages == []
    assert "wrong-password-123" not in (outcome.message or "")
    assert "wrong-password-123" not in target.key and "wrong-password-123" not in repr(target)


def test_email_target_key_hides_the_password() -> None:
    target = email_target(2525)
    assert target.kind == "mailtos"
    assert PASSWORD not in target.key and "s3cret" not in target.key
    assert PASSWORD not in repr(target)
    assert "mode=starttls" in target.key


def test_missing_password_env_is_named_not_shown() -> None:
    with pytest.raises(MissingSecretError, match="MRT_SMTP_PASSWORD"):
        channels.resolve_targets(email_config(2525), {"MRT_SMTP_USER": USER})


def test_a_login_name_that_is_not_an_address_sends_as_mrt_at_the_host() -> None:
    # v0 sent as the login name; a bare name is no address, so MRT sends as mrt@<hostname>
    targets = channels.resolve_targets(
        email_config(2525), {"MRT_SMTP_USER": "bot", "MRT_SMTP_PASSWORD": "x"}
    )
    (target,) = targets["email"]
    assert quote(default_sender(), safe="") in target.url and "from=bot" not in target.url
