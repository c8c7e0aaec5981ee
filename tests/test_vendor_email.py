"""Email as multipart text + HTML (issue 16): both parts arrive at a real SMTP server (aiosmtpd,
STARTTLS and AUTH), the HTML escapes upstream text and links the link, the text part reads as
the rendered message."""

from __future__ import annotations

import asyncio

from test_delivery_email import SmtpServer, email_target, smtp_server

from mrt.delivery import channels
from mrt.delivery.vendors import mail
from mrt.message import Message

__all__ = ["smtp_server"]  # the fixture, used by name below

HOSTILE = Message(
    subject="[MRT] New issue: <script>alert(1)</script> & \"quotes\"",
    body=(
        "New issue in org/repo on GitHub by <b>mallory</b>\n"
        "<img src=x onerror=alert(1)> & <a href=\"https://evil.example\">click</a>\n"
        "\n"
        "Why: models: title contained 'deepseek'\n"
        "https://github.com/org/repo/issues/7"
    ),
)


def test_email_carries_a_text_and_an_escaped_html_part(smtp_server: SmtpServer) -> None:
    target = email_target(smtp_server.port)
    assert channels.plugin_for(target) is mail

    outcome = asyncio.run(channels.send(target, HOSTILE, timeout=10))

    assert outcome.ok, outcome
    (_, received), *_ = smtp_server.mailbox.messages
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    markup = received.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    plain, page = text.get_content(), markup.get_content()
    assert "New issue in org/repo on GitHub by <b>mallory</b>" in plain  # the words, as written
    assert "https://github.com/org/repo/issues/7" in plain
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert 'href="https://evil.example"' not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;a href=&quot;https://evil.example" in page
    assert ('<a href="https://github.com/org/repo/issues/7">'
            "https://github.com/org/repo/issues/7</a>") in page
    assert "<h3>[MRT] New issue: &lt;script&gt;" in page
    assert received["Subject"] == HOSTILE.subject


def test_html_body_links_only_http_lines() -> None:
    page = mail.html_body(Message(subject="", body="javascript:alert(1)\nhttps://ok.example/a"))
    assert '<a href="https://ok.example/a">' in page
    assert 'href="javascript' not in page and "javascript:alert(1)" in page
