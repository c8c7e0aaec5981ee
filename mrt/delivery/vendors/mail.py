"""Email as multipart/alternative: the rendered text, and the same as HTML (`mrt.channels` entry
points `mailto`, `mailtos`).

The targets are Apprise's mailto(s):// URLs as before (v0's notify.email builds one; the key
does not change); the send is Apprise's SMTP (STARTTLS, AUTH, certificates verified) with an
HTML body, which Apprise sends as multipart/alternative with a plain-text part made from it.
The HTML is the rendered text escaped (`< > & " '` as entities: upstream text never becomes a
tag), a paragraph per blank-line block, a line that is a link made a link, the subject a heading.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from mrt.config import ChannelConfig
from mrt.delivery import apprise_channel
from mrt.delivery.sanitize import clean_url
from mrt.message import Message, SendOutcome, Target

_URL_LINE = re.compile(r"^\s*(https?://\S+)\s*$")


def html_body(message: Message) -> str:
    """The message as a small HTML document; every character of the text escaped."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", message.body.strip()):
        lines = []
        for line in block.split("\n"):
            match = _URL_LINE.match(line)
            url = clean_url(match.group(1)) if match else ""
            if url:
                lines.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
            else:
                lines.append(html.escape(line, quote=True))
        blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
    heading = f"<h3>{html.escape(message.subject, quote=True)}</h3>\n" if message.subject else ""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        '<body style="font-family: sans-serif">\n' + heading + "\n".join(blocks)
        + "\n</body></html>"
    )


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return apprise_channel.targets(name, channel, env)


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    """Apprise's SMTP through the target's kept plugin, with the HTML body."""
    return await apprise_channel.send(target, message, timeout=timeout, html=html_body(message))
