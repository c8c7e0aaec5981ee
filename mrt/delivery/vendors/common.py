"""What every chat vendor channel shares: the card data, mentions, escaping, limits, targets,
and the turn of a vendor's answer into a SendOutcome.

    card_of(message) -> Card            the alert as a card: title, text, fields, link
    mentions_of(url) -> Mentions        `?at=ID,ID&at_all=yes` on a target URL (as WeLink's)
    vendor_targets(...)                 a channel's URLs -> Targets (Apprise form or plain https)
    vendor_outcome(answer, ...)         HTTP status + the vendor's code -> ok / retry / throttle /
                                        dead, with the vendor's own words, secrets scrubbed

The card's text is the rendered message (the operator's template, upstream text already cleaned
by mrt/delivery/sanitize.py); its fields come from the alert (Message.extra, filled when the
outbox row is claimed: mrt/store/outbox_extra.py) and pass the same sanitiser here. Each vendor
then escapes for its own markup, so upstream text is never a mention or markup.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import peewee

from mrt.config import ChannelConfig
from mrt.delivery.render import describe_event_type
from mrt.delivery.sanitize import clean_line, clean_url, fit_text
from mrt.delivery.target_urls import build_target, expand_placeholders
from mrt.delivery.webhook_http import WebhookAnswer, outcome_for_status
from mrt.errors import ConfigError, MissingSecretError
from mrt.events import utcnow
from mrt.inert import strip_controls
from mrt.message import Message, SendOutcome, Target
from mrt.plugins import display_name
from mrt.secrets import Scrubber, mask_url, url_secret_parts
from mrt.store import vendor_threads

log = logging.getLogger(__name__)

_URL_LINE = re.compile(r"^\s*https?://\S+\s*$")
_WHOLE_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_ID = re.compile(r"^[A-Za-z0-9_.+\-]{1,64}$")
TEST_KIND = "test"  # Alert.kind of `mrt notify test`'s messages


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    text: str
    fields: tuple[tuple[str, str], ...]
    link: str
    priority: str = "normal"
    test: bool = False
    thread_key: str | None = None


@dataclass(frozen=True, slots=True)
class Mentions:
    users: tuple[str, ...] = ()
    all: bool = False


def card_of(message: Message) -> Card:
    """The alert as a card: the subject (or the body's first line) is the title, the body's
    other lines the text, the link (the body's last line when it is the alert's link) a button."""
    extra = message.extra
    lines = message.body.strip().split("\n")
    title = message.subject.strip()
    if not title:
        title = lines.pop(0).strip() if lines else ""
    link = clean_url(message.url)
    if lines and _URL_LINE.match(lines[-1]) and (not link or lines[-1].strip() == link):
        link = link or clean_url(lines[-1].strip())
        lines.pop()
    fields: list[tuple[str, str]] = []
    source = str(extra.get("source") or "")
    if extra.get("event_type"):
        fields.append(("Event", describe_event_type(str(extra["event_type"]), source)))
    if source:
        fields.append(("Platform", display_name(source)))
    if extra.get("author"):
        fields.append(("Author", str(extra["author"])))
    if message.priority not in ("", "normal"):
        fields.append(("Priority", message.priority))
    rules = [str(r) for r in extra.get("rules") or [] if r]
    if rules:
        fields.append(("Rules", ", ".join(rules)))
    cleaned = tuple(
        (clean_line(label, max_chars=40), clean_line(value, max_chars=200))
        for label, value in fields
    )
    test = extra.get("alert_kind") == TEST_KIND
    title = clean_line(title, max_chars=250) or "MRT"
    if test and "TEST" not in title:  # a test says so in its title, on every vendor
        title = "[TEST] " + title
    return Card(
        title=title,
        text="\n".join(lines).strip(),
        fields=tuple((k, v) for k, v in cleaned if k and v),
        link=link,
        priority=message.priority or "normal",
        test=test,
        thread_key=str(extra["thread_key"]) if extra.get("thread_key") else None,
    )


def query_options(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def mentions_of(url: str, *, extra_users: Iterable[str] = ()) -> Mentions:
    """Who a target mentions: `at=ID,ID` (user ids, phone numbers) and `at_all=yes`."""
    options = query_options(url)
    users = [u.strip() for u in options.get("at", "").split(",") if u.strip()]
    users += [u for u in extra_users if u]
    bad = [u for u in users if not _ID.match(u)]
    if bad:
        raise ConfigError(
            f"mention {bad[0]!r} is not a user id (expected letters, digits, '_', '.', '+', '-')",
        )
    at_all = options.get("at_all", "no").lower() in {"yes", "true", "1", "on"}
    return Mentions(users=tuple(dict.fromkeys(users)), all=at_all)


def fit_bytes(text: str, max_bytes: int) -> str:
    """`text` trimmed (with a visible ellipsis) to at most `max_bytes` of UTF-8."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    limit = max_bytes
    while limit > 1:
        cut = fit_text(text, limit, keep_link=False)
        if len(cut.encode("utf-8")) <= max_bytes:
            return cut
        limit = min(limit - 1, max_bytes * len(cut) // max(1, len(cut.encode("utf-8"))))
    return ""


def is_plain_web_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in {"http", "https"}


def vendor_targets(
    name: str,
    channel: ChannelConfig,
    env: Mapping[str, str],
    *,
    kind: str,
    apprise_schemes: tuple[str, ...],
    check: Callable[[str], object],
    signing_secrets: Callable[[str], Iterable[str]] = lambda _url: (),
    public_segments: tuple[str, ...] = (),
) -> list[Target]:
    """The targets of a channel of this vendor's `type`: an Apprise URL of the vendor keeps
    Apprise's key and meaning; a plain http(s) URL is the vendor's webhook itself. `check`
    parses the URL (ConfigError on a bad one), so `mrt check` reports it. A signing secret
    (`signing_secrets` of the URL as written) must be a whole `${NAME}`: from the environment
    only, never in the file."""
    raw: list[tuple[str, str, list[str]]] = []
    for index, url in enumerate(channel.urls):
        where = f"channels.{name}.urls[{index}]"
        try:
            written = [s for s in signing_secrets(url) if s and not _WHOLE_PLACEHOLDER.match(s)]
        except ConfigError:
            written = []  # a bad URL: `check` below says what is wrong
        if written:
            raise ConfigError(
                f"{where}: the signing secret is written in the file; put it in the environment "
                "and write its ${NAME} instead (e.g. secret=${DINGTALK_SECRET})",
                path=f"channels.{name}",
            )
        expanded, used = expand_placeholders(url, env, where)
        raw.append((where, expanded, used))
    for var in channel.url_env:
        value = (env.get(var) or "").strip()
        if not value:
            raise MissingSecretError(
                f"environment variable {var} is not set (needed by channels.{name}.url_env)"
            )
        raw.append((f"channels.{name}.url_env ({var})", value, [value]))
    if not raw:
        raise ConfigError(f"a {kind} channel needs at least one of urls or url_env",
                          path=f"channels.{name}")
    found: list[Target] = []
    for where, url, used in raw:
        scheme = urlsplit(url).scheme.lower()
        try:
            check(url)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", path=f"channels.{name}") from None
        if scheme in apprise_schemes:
            found.append(build_target(name, url, used, max_length=channel.max_length,
                                      min_interval_seconds=channel.min_interval_seconds))
            continue
        if not is_plain_web_url(url):
            shown = " or ".join(f"{s}://" for s in apprise_schemes)
            raise ConfigError(
                f"{where}: a {kind} channel takes {shown} URLs or the robot's https webhook URL; "
                f"found a {scheme or 'scheme-less'} URL",
                path=f"channels.{name}",
            )
        # a long path segment looks like a token to the masker; an API method name is not one
        parts = [p for p in url_secret_parts(url) if p not in public_segments]
        secrets = tuple(dict.fromkeys(s for s in [*used, *parts] if s))
        key = mask_url(url)
        for segment in public_segments:
            if f"/{segment}" in urlsplit(url).path:
                key = key.replace("/***", f"/{segment}", 1)
        found.append(Target(
            channel=name, key=key, url=url, kind=kind,
            max_length=channel.max_length, min_interval_seconds=channel.min_interval_seconds,
            secrets=secrets,
        ))
    return found


def vendor_words(*parts: object) -> str:
    """What the vendor said, as one clean line (its own words; no controls, bounded)."""
    text = " ".join(str(p) for p in parts if p not in (None, ""))
    return strip_controls(text, keep_newlines=False)[:300]


def vendor_outcome(
    target: Target,
    answer: WebhookAnswer,
    code: str | None,
    said: str,
    *,
    ok_codes: frozenset[str] = frozenset({"0"}),
    throttle: Mapping[str, float | None],
    dead: frozenset[str],
) -> SendOutcome:
    """An answer -> SendOutcome. HTTP first (429, 5xx, 4xx as webhook_http says); then, on a
    2xx, the vendor's code: `ok_codes` ok, `throttle` (code -> seconds to wait, None: the
    sender's backoff) throttled, `dead` permanent; any other code is a failure to retry."""
    scrub = Scrubber((*target.secrets, target.url))
    words = scrub(said)
    if not 200 <= answer.status < 300:
        outcome = outcome_for_status(answer, words)
        dead_code = code is not None and code in dead
        throttled = outcome.throttled or (code is not None and code in throttle)
        return SendOutcome(
            ok=False, retryable=(outcome.retryable or throttled) and not dead_code,
            throttled=throttled, retry_after=outcome.retry_after, http_status=answer.status,
            vendor_code=code, error_class="Throttled" if throttled else outcome.error_class,
            message=outcome.message,
        )
    if code is None or code in ok_codes:
        return SendOutcome(ok=True, retryable=False, http_status=answer.status, vendor_code=code,
                           message=words or None)
    message = f"{target.kind} answered code {code}" + (f": {words}" if words else "")
    if code in throttle:
        return SendOutcome(
            ok=False, retryable=True, throttled=True, retry_after=throttle[code],
            http_status=answer.status, vendor_code=code, error_class="Throttled", message=message,
        )
    return SendOutcome(
        ok=False, retryable=code not in dead, http_status=answer.status, vendor_code=code,
        error_class="Refused" if code in dead else "VendorError", message=message,
    )


def bad_target(target: Target, exc: ConfigError) -> SendOutcome:
    """A target URL this vendor cannot use (a bad mention option): never sent, never retried."""
    scrub = Scrubber((*target.secrets, target.url))
    return SendOutcome(ok=False, retryable=False, error_class="ConfigError",
                       message=scrub(f"channel {target.channel}: {exc.message}"))


def answer_field(answer: WebhookAnswer, *names: str) -> Any:
    """The first of `names` in the answer's JSON object (None when absent or not JSON)."""
    data = answer.json()
    if not isinstance(data, dict):
        return None
    for name in names:
        if name in data:
            return data[name]
    return None


_MARKDOWN_TWINS = str.maketrans({
    "<": "\uff1c", ">": "\uff1e", "*": "\uff0a", "`": "\uff40", "|": "\uff5c",
})


def escape_markdown(text: str) -> str:
    """Text that no chat markdown reads as markup: `<>*`|` become their full-width twins (no tag,
    emphasis, code or table can start), a `]` that would close a link or image (`](`, `][`,
    `]:`) too, and a line's leading `#` (no heading). "[MRT]" stays as written; it reads the
    same to a person; mentions were neutralised before (sanitize.py)."""
    escaped = text.translate(_MARKDOWN_TWINS)
    escaped = re.sub(r"\](?=[(\[:])", "\uff3d", escaped)
    return re.sub(r"(?m)^(\s*)#", "\\1\uff03", escaped)


def markdown_link_url(url: str) -> str:
    """A link target safe inside `(...)`: no parentheses or spaces."""
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def with_query(url: str, drop: Iterable[str]) -> tuple[str, dict[str, str]]:
    """(the URL without its query, the query minus `drop`): our options never reach a vendor."""
    parts = urlsplit(url)
    dropped = set(drop)
    params = {k: v for k, v in query_options(url).items() if k not in dropped}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", params


async def thread_of(target: Target, thread_key: str | None) -> str | None:
    """The vendor's id of the first message about this resource on this target, if kept.

    Off the event loop (a store call); without a database (a bare send in a test) no thread."""
    if thread_key is None:
        return None
    try:
        return await asyncio.to_thread(vendor_threads.first_message, target.key, thread_key)
    except (peewee.PeeweeException, AttributeError) as exc:
        log.debug("no thread lookup for %s: %s", target.key, type(exc).__name__)
        return None


async def remember_thread(target: Target, thread_key: str, message_id: object) -> None:
    """Keep the first message's id (the first one wins); a failure only loses the thread."""
    if not isinstance(message_id, str) or not message_id:
        return
    try:
        await asyncio.to_thread(
            vendor_threads.remember, target.key, thread_key, message_id, utcnow()
        )
    except (peewee.PeeweeException, AttributeError) as exc:
        log.warning("thread of %s not kept: %s", target.key, type(exc).__name__)
