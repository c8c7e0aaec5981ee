"""Planning cleans upstream text once and fast, with the very same output (issue 13, ingest).

The sanitiser takes a short cut for text with nothing to remove (printable, no mention sign,
no double space) and an alert's events are cleaned once for all of its channels. These tests
prove the short cuts change nothing: every printable code point goes through the general path
unchanged, the sanitisers agree with the straightforward ones they replace over the hostile
corpus and the ingest benchmark's events, and the messages of the benchmark's alerts are
byte-for-byte those rendered with the straightforward sanitisers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from mrt import inert
from mrt.alerting import Renderer, plan_event_alert
from mrt.config import config_from_dict
from mrt.delivery import render, sanitize
from mrt.delivery.base import Target
from mrt.delivery.sanitize import fit_text
from mrt.rules import compile_rules
from tests.bench.corpus import bench_rules, make_events
from tests.hostile import CORPUS

MENTION_TAG = re.compile(r"<(?=\s*(?:[!@#]|at\b))", re.IGNORECASE)
SLACK_BANG = re.compile(r"!(?=[^|\s<>!]+[ \t]*(?:\|[^\n>]*)?(?:>|&gt;))")


# The sanitisers as they were written before the short cuts: the reference.
def plain_neutralise(text: str) -> str:
    text = MENTION_TAG.sub("\uff1c", text)
    text = SLACK_BANG.sub("\uff01", text)
    return text.replace("@", "\uff20")


def plain_clean_line(value: object, *, max_chars: int = 300) -> str:
    text = inert._strip(str(value or ""), False)
    text = re.sub(r" {2,}", " ", text).strip()
    return plain_neutralise(fit_text(text, max_chars, keep_link=False))


def plain_clean_url(value: object) -> str:
    text = inert._strip(str(value or ""), False).strip()
    if not text or urlsplit(text).scheme.lower() not in {"http", "https"} or " " in text:
        return ""
    return text.replace("@", "%40")


def plain_clean_text(value: object, *, max_chars: int = 2000) -> str:
    text = inert._strip(str(value or ""), True)
    text = "\n".join(re.sub(r"[ \t]{2,}", " ", line).rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return plain_neutralise(fit_text(text, max_chars, keep_link=False))


EVENTS = make_events(600)
SAMPLES = [
    *CORPUS.values(),
    *(e.title for e in EVENTS), *(e.summary for e in EVENTS), *(e.author for e in EVENTS),
    "  padded  title  ", "a\tb  c", "line one\n\n\n\nline two  \n", "@all <!here> <@U1>",
    "x" * 400, " " * 5, "", "DeepSeek\u00a0V3", "混合专家 @所有人", "a!b> c", "tab\there",
    "\u2028split\u2029", "emoji \U0001f468\u200d\U0001f469", "é\u0301 ok", "ſegfault K",
]


@pytest.mark.parametrize("keep_newlines", [False, True])
def test_every_printable_code_point_passes_the_general_path_unchanged(
    keep_newlines: bool,
) -> None:
    changed = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if chr(code).isprintable() and inert._strip(chr(code), keep_newlines) != chr(code)
    ]
    assert changed == []
    # nothing printable starts an escape sequence either
    for code in range(0x110000):
        if chr(code).isprintable():
            assert inert._ESCAPES.match(chr(code) + "[31m]8;;x\x07") is None


def test_the_sanitisers_agree_with_the_straightforward_ones() -> None:
    for text in SAMPLES:
        for keep in (False, True):
            assert inert.strip_controls(text, keep_newlines=keep) == inert._strip(text, keep)
        for limit in (300, 60, 5):
            assert sanitize.clean_line(text, max_chars=limit) == plain_clean_line(
                text, max_chars=limit
            ), text
            assert sanitize.clean_text(text, max_chars=limit * 2) == plain_clean_text(
                text, max_chars=limit * 2
            ), text
        assert sanitize.neutralise_mentions(text) == plain_neutralise(text)
    for short_cut, plain in ((sanitize.clean_line, plain_clean_line),
                             (sanitize.clean_text, plain_clean_text)):
        for value in ("", "x"):  # a limit below one is refused the same way
            with pytest.raises(ValueError, match="limit must be positive"):
                plain(value, max_chars=0)
            with pytest.raises(ValueError, match="limit must be positive"):
                short_cut(value, max_chars=0)
    links = [
        *(e.url for e in EVENTS), "https://github.com/a/b/issues/1", "http://x.org/@all",
        "HTTPS://Example.org/x", "https://exa mple.org", "ftp://x.org/a", "https://[::1]:8/x",
        "javascript:alert(1)", " https://x.org/ ", "https://x.org/\u202ey", "https://例子.cn/",
        "https:", "https://", "http://user@host/p?q=1#f",
    ]
    for link in [*links, *SAMPLES]:
        assert sanitize.clean_url(link) == plain_clean_url(link), link
    with pytest.raises(ValueError):
        plain_clean_url("https://[::1/x")
    with pytest.raises(ValueError):  # refused the same way by the short cut's general path
        sanitize.clean_url("https://[::1/x")
    for value in (None, 0, 7, 3.5, True, ["a", "@b"]):
        assert sanitize.clean_line(value) == plain_clean_line(value)
        assert sanitize.clean_text(value) == plain_clean_text(value)


def bench_alerts(monkeypatch: pytest.MonkeyPatch | None = None) -> list[Any]:
    config = config_from_dict(
        bench_rules("json://127.0.0.1:9")
        | {"channels": {"team": {"urls": ["json://127.0.0.1:9/team"]},
                        "oncall": {"urls": ["welink://127.0.0.1:9/oncall"]},
                        "mail": {"urls": ["mailto://a:b@example.org"]}}}
    )
    ruleset = compile_rules(config)
    renderer = Renderer(config)
    targets = {name: [Target(channel=name, key=f"{name}:0", url="x")] for name in config.channels}
    plans = []
    for event in EVENTS:
        decision = ruleset.evaluate(event, now=event.observed_at)
        if decision.action == "notify":
            to = ("team", "oncall", "mail")
            plans.append(plan_event_alert(renderer, targets, event, decision, channels=to))
    return [(d.channel, d.message) for p in plans for d in p.deliveries]


def test_alert_messages_are_byte_for_byte_those_of_the_straightforward_sanitisers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = bench_alerts()
    assert len(fast) > 300  # a third of the corpus alerts, each to three channels
    monkeypatch.setattr(render, "clean_line", plain_clean_line)
    monkeypatch.setattr(render, "clean_text", plain_clean_text)
    monkeypatch.setattr(render, "clean_url", plain_clean_url)
    plain = bench_alerts()
    assert fast == plain


def test_an_alert_to_several_channels_cleans_its_event_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    real = render.event_context

    def counting(event: Any) -> dict[str, Any]:
        built.append(event.event_id)
        return real(event)

    monkeypatch.setattr(render, "event_context", counting)
    render._default_source.cache_clear()
    messages = bench_alerts()
    alerts = len(messages) // 3
    assert len(built) == alerts  # once per alert, not once per channel
    # each default template file is read once, not once per message
    assert render._default_source.cache_info().misses == 3  # chat, email body, subject
    # the shared text renders what each channel renders on its own
    monkeypatch.setattr(render, "event_context", real)
    config = config_from_dict(bench_rules("json://127.0.0.1:9"))
    ruleset = compile_rules(config)
    for event in EVENTS[:200]:
        decision = ruleset.evaluate(event, now=event.observed_at)
        shared = Renderer(config).writer([event], decision)
        for channel in ("team", "oncall"):
            assert shared(channel) == render.render_message(config, channel, [event], decision)
