"""The Feishu / Lark interactive card (card JSON 1.0), for the custom bot and the app bot alike.

A header (the title; red for high and critical, grey for a test), the text as plain_text (no
markup at all), the alert's fields as lark_md with every markup character an HTML entity, a
button to the link, and the mentions (`<at id=...></at>`).
"""

from __future__ import annotations

from typing import Any

from mrt.delivery.vendors.common import Card, Mentions, fit_bytes

MAX_TEXT_BYTES = 12000  # the request may be 20 KB; room for header, fields and JSON
MAX_TITLE = 100
_LARK_MD = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "&#42;", "_": "&#95;", "~": "&#126;",
            "[": "&#91;", "]": "&#93;", "(": "&#40;", ")": "&#41;", "`": "&#96;", "#": "&#35;"}


def escape_lark_md(text: str) -> str:
    return "".join(_LARK_MD.get(c, c) for c in text)


def _colour(card: Card) -> str:
    if card.test:
        return "grey"
    return "red" if card.priority in ("high", "critical") else "blue"


def render_card(card: Card, mentions: Mentions) -> dict[str, Any]:
    title = card.title
    elements: list[dict[str, Any]] = []
    if card.text:
        elements.append({"tag": "div", "text": {
            "tag": "plain_text", "content": fit_bytes(card.text, MAX_TEXT_BYTES)}})
    if card.fields:
        elements.append({"tag": "div", "fields": [
            {"is_short": True, "text": {
                "tag": "lark_md", "content": f"**{escape_lark_md(k)}**\n{escape_lark_md(v)}"}}
            for k, v in card.fields[:10]
        ]})
    if card.link:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "type": "primary", "url": card.link,
            "text": {"tag": "plain_text", "content": "Open"},
        }]})
    tags = (["<at id=all></at>"] if mentions.all else []) + [
        f"<at id={user}></at>" for user in mentions.users
    ]
    if tags:
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": " ".join(tags)}})
    if not elements:  # a one-line message with nothing else: a card needs a body
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": card.title}})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "template": _colour(card),
            "title": {"tag": "plain_text", "content": fit_bytes(title, MAX_TITLE * 3)[:MAX_TITLE]},
        },
        "elements": elements,
    }
