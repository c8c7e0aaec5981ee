"""Targets and their keys for the URLs we send ourselves, without importing Apprise.

    build_target(channel, url, secrets, ...) -> Target
        welink:// (and the robot's own https URL) and json:// / jsons:// URLs in the forms
        parse_welink / parse_json read are keyed here; every other URL (another Apprise
        scheme, or one of these with an option only Apprise reads) by Apprise, as before
        (mrt.delivery.apprise_channel.apprise_target, imported then: Apprise loads every plugin
        it has, ~27 MiB).

The key (the redacted URL outbox rows are matched by) is made from what Apprise's plugin
gives as `url(privacy=True)`; tests/test_target_keys.py compares both for a table of URLs.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

from mrt.delivery.base import Target
from mrt.delivery.welink_robot import (
    MAX_TEXT,
    is_welink_webhook,
    parse_welink,
    webhook_to_welink_url,
)
from mrt.errors import MissingSecretError
from mrt.secrets import TOKEN_HOST_SCHEMES, Scrubber, mask_privacy_url, url_secret_parts

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Per-kind text limits (characters) where the robot enforces one.
KIND_MAX_LENGTH: dict[str, int] = {"welink": MAX_TEXT, "wecombot": 2048}
# How we call Apprise (its retries, overflow handling), not which target it is: left out of the
# key so that the outbox's target keys survive an Apprise upgrade that changes those defaults.
_SEND_SETTINGS = frozenset({"overflow", "retry", "wait", "optional", "cto", "rto", "format"})
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*")
_PATH = re.compile(r"(?:/[A-Za-z0-9_\-.~]*)*")
_USER = re.compile(r"[A-Za-z0-9_\-.~]+")
_NAME = re.compile(r"[+\-:][A-Za-z0-9_\-.]+")


def expand_placeholders(url: str, env: Mapping[str, str], where: str) -> tuple[str, list[str]]:
    """`${NAME}` -> env[NAME]; a missing variable is a MissingSecretError naming it."""
    used: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env.get(name)
        if not value:
            raise MissingSecretError(
                f"environment variable {name} is not set (needed by {where})", title=None
            )
        used.append(value)
        return value

    return _PLACEHOLDER.sub(substitute, url), used


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Every secret in `text` removed (mrt.secrets: the one scrubber); URLs stay readable."""
    return Scrubber(secrets)(text)


def stable_key(privacy_url: str) -> str:
    base, _, query = privacy_url.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in _SEND_SETTINGS]
    return base + ("?" + urlencode(kept, safe="*") if kept else "")


def legacy_key(privacy_url: str, url: str, secrets: Iterable[str]) -> str:
    """The key this target had before masks hid all of a token (outbox rows written then
    still carry it): Apprise's privacy form with the known secrets, whole URL included,
    replaced by `***`."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    found = [url, *secrets, unquote(password) if password else ""]
    if parts.scheme.lower() in TOKEN_HOST_SCHEMES:
        found += [unquote(user), unquote(hostport.split(":")[0]) if not userinfo else ""]
    found += [
        unquote(v)
        for k, v in parse_qsl(parts.query)
        if v and re.search(r"token|key|secret|pass|sign|auth|webhook|sid|^\+", k, re.IGNORECASE)
    ]
    found += [unquote(p) for p in parts.path.split("/") if len(p) >= 16]
    forms = {f for s in found if s for f in (s, quote(s, safe=""), quote_plus(s))}
    for form in sorted((f for f in forms if len(f) >= 3), key=len, reverse=True):
        privacy_url = privacy_url.replace(form, "***")
    return stable_key(privacy_url)


def keyed_target(
    channel_name: str, url: str, secrets: Iterable[str], kind: str, privacy_url: str,
    *, max_length: int | None, min_interval_seconds: float | None,
) -> Target:
    """A Target keyed by the privacy URL of its plugin (Apprise's or ours, the same form)."""
    secrets = list(secrets)
    all_secrets = tuple(dict.fromkeys(s for s in [*secrets, *url_secret_parts(url)] if s))
    # Apprise masks what each plugin declares private, keeping a token's first and last
    # characters; mask those wholly and scrub again for what it does not (a value from the
    # environment in a header or query).
    key = stable_key(scrub(mask_privacy_url(privacy_url), [url, *all_secrets]))
    legacy = legacy_key(privacy_url, url, secrets)
    return Target(
        channel=channel_name, key=key, url=url, kind=kind,
        max_length=max_length or KIND_MAX_LENGTH.get(kind),
        min_interval_seconds=min_interval_seconds, secrets=all_secrets,
        previous_keys=(legacy,) if legacy != key else (),
    )


def build_target(
    channel_name: str, url: str, secrets: Iterable[str], *,
    max_length: int | None = None, min_interval_seconds: float | None = None,
) -> Target:
    """One URL -> a Target keyed as Apprise keys it. ConfigError if Apprise rejects it."""
    if is_welink_webhook(url):
        url = webhook_to_welink_url(url)
    robot = parse_welink(url)
    hook = parse_json(url) if robot is None else None
    privacy = robot.privacy_url() if robot else hook.privacy_url() if hook else None
    privacy = privacy or vendor_privacy_url(url)
    if privacy is None:
        from mrt.delivery.apprise_channel import apprise_target

        return apprise_target(channel_name, url, secrets, max_length=max_length,
                              min_interval_seconds=min_interval_seconds)
    kind = "welink" if robot else urlsplit(url).scheme.lower()
    return keyed_target(channel_name, url, secrets, kind, privacy, max_length=max_length,
                        min_interval_seconds=min_interval_seconds)


@dataclass(frozen=True, slots=True)
class JsonHook:
    """A parsed json:// or jsons:// URL (Apprise's NotifyJSON, POST, certificates verified)."""

    secure: bool
    host: str
    port: int | None
    path: str
    user: str | None = None
    password: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{'https' if self.secure else 'http'}://{self.host}{port}{self.path}"

    def privacy_url(self) -> str:
        """NotifyJSON.url(privacy=True) without Apprise's send settings (see stable_key)."""
        params = {"method": "POST"} | {f"+{k}": v for k, v in self.headers.items()}
        params |= {f"-{k}": v for k, v in self.params.items()}
        params |= {f":{k}": v for k, v in self.extras.items()}
        auth = ""
        if self.user:
            auth = quote(self.user, safe="") + (":****" if self.password else "") + "@"
        default = 443 if self.secure else 80
        port = "" if self.port is None or self.port == default else f":{self.port}"
        scheme = "jsons" if self.secure else "json"
        return f"{scheme}://{auth}{self.host}{port}{self.path or '/'}?{urlencode(params)}"


def parse_json(url: str) -> JsonHook | None:
    """A json(s):// URL whose every part we read as Apprise does: host, port, path, user and
    password, `+Header=`, `-param=`, `:payload=` options; None for anything else (a method,
    verify=no, odd characters: Apprise then reads it)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("json", "jsons") or "#" in url or not url.startswith(f"{parts.scheme}://"):
        return None
    # as Apprise reads a query: "+" is a header's mark, not a space
    query = [(unquote(k), unquote(v)) for k, _, v in
             (pair.partition("=") for pair in parts.query.split("&") if pair)]
    names = [k for k, _ in query]
    if len(set(names)) != len(names) or any(not _NAME.fullmatch(k) for k in names):
        return None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    host, _, port = hostport.partition(":")
    if (not _HOST.fullmatch(host) or not _PATH.fullmatch(parts.path)
            or (port and not (port.isdigit() and 0 < int(port) < 65536))
            or (at and not _USER.fullmatch(user)) or (colon and not _USER.fullmatch(password))):
        return None
    return JsonHook(
        secure=scheme == "jsons", host=host, port=int(port) if port else None,
        path=parts.path, user=user or None, password=password or None,
        headers={k[1:]: v for k, v in query if k[0] == "+"},
        params={k[1:]: v for k, v in query if k[0] == "-"},
        extras={k[1:]: v for k, v in query if k[0] == ":"},
    )


# Apprise's chat-robot schemes whose URLs we send ourselves (mrt/delivery/vendors/): the token
# as Apprise validates it, and how its privacy form shows it ("outer": a...z; "secret": ****).
_ROBOTS: dict[str, tuple[re.Pattern[str], str]] = {
    "dingtalk": (re.compile(r"[a-z0-9]+", re.IGNORECASE), "outer"),
    "feishu": (re.compile(r"[A-Z0-9_-]+", re.IGNORECASE), "outer"),
    "lark": (re.compile(r"[a-z0-9-]+", re.IGNORECASE), "secret"),
    "wecombot": (re.compile(r"[a-z0-9_-]+", re.IGNORECASE), "outer"),
}
# query options only our vendor plugins read (mentions): Apprise's privacy form leaves them out
_VENDOR_ONLY = frozenset({"at", "at_all"})


def vendor_privacy_url(url: str) -> str | None:
    """Apprise's privacy form of `dingtalk://[SECRET@]TOKEN`, `feishu://TOKEN`, `lark://TOKEN`,
    `wecombot://KEY` (with at= / at_all=); None for another form (mobiles in the path, token=,
    secret=, to= in the query ...): Apprise then reads it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _ROBOTS or "#" in url or parts.path not in ("", "/"):
        return None
    names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if not set(names) <= _VENDOR_ONLY:
        return None
    pattern, shown = _ROBOTS[scheme]
    secret, at, token = parts.netloc.rpartition("@")
    if not pattern.fullmatch(token) or (at and (scheme != "dingtalk" or not pattern.fullmatch(secret))):
        return None
    masked = "****" if shown == "secret" else f"{token[:1]}...{token[-1:]}"
    if scheme == "dingtalk":  # its form: SECRET@TOKEN/MOBILES/
        return f"dingtalk://{'****@' if secret else ''}{masked}//?"
    return f"{scheme}://{masked}/?"


def disambiguate(found: list[Target]) -> list[Target]:
    """Two URLs whose privacy forms coincide get a short hash so each keeps its own outbox row
    (and so do their former keys, as they did then)."""
    keys = Counter(t.key for t in found)
    former = Counter(k for t in found for k in t.previous_keys or (t.key,))
    result: list[Target] = []
    for target in found:
        digest = hashlib.sha256(target.url.encode()).hexdigest()[:10]
        key = f"{target.key}#{digest}" if keys[target.key] > 1 else target.key
        previous = tuple(
            f"{k}#{digest}" if former[k] > 1 else k for k in target.previous_keys or (target.key,)
        )
        result.append(
            replace(target, key=key, previous_keys=tuple(k for k in previous if k != key))
        )
    return result
