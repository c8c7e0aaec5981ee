"""A WeLink robot's URL forms and payload, without Apprise (mrt/delivery/welink.py is the
Apprise plugin built on this; mrt/delivery/webhook.py sends through our own client).

    parse_welink(url) -> WeLinkRobot | None   a welink:// URL in the forms we read, else None
                                              (Apprise then parses it, and says what is wrong)
    robot.privacy_url()                       what the Apprise plugin's url(privacy=True) gives
                                              (the target key is made from it)
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

from mrt.delivery.sanitize import fit_text

DEFAULT_HOST = "open.welink.huaweicloud.com"
DEFAULT_PATH = "/api/werobot/v1/webhook/send"
MAX_TEXT = 500
MAX_AT_ACCOUNTS = 10

# code -> (meaning, retryable). 58500 is the robot's own server error: try again later.
KNOWN_CODES: dict[str, tuple[str, bool]] = {
    "58404": ("robot not found", False),
    "58500": ("WeLink server error", True),
    "58601": ("bad parameters", False),
    "58602": ("robot disabled", False),
}

_TRUE = {"1", "yes", "true", "on", "y"}
_WELINK_RE = re.compile(r"^welink://", re.IGNORECASE)
# What parse_welink reads itself; anything else (odd characters, Apprise's own options such as
# verify= or tz=) is left to Apprise, so the key stays what Apprise makes of it.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~]+")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*")
_PATH = re.compile(r"(?:/[A-Za-z0-9_\-.~]*)*")
_ACCOUNT = re.compile(r"[A-Za-z0-9_\-.@]+")
_OPTIONS = frozenset({"channel", "at", "is_at", "at_all", "secure"})
_FLAGS = frozenset({"yes", "no", "true", "false", "1", "0", "on", "off", "y", "n"})


def flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def valid_host(hostport: str) -> bool:
    try:
        parts = urlsplit(f"//{hostport}")
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return False
    return bool(parts.hostname) and (port is None or port > 0)


def is_welink_url(url: str) -> bool:
    return bool(_WELINK_RE.match(url))


def is_welink_webhook(url: str) -> bool:
    """True for the robot's own https (or, for tests, http) send URL with a token."""
    parts = urlsplit(url.strip())
    return (
        parts.scheme in {"http", "https"}
        and parts.path.rstrip("/").endswith(DEFAULT_PATH)
        and bool(parse_qs(parts.query).get("token"))
    )


def webhook_to_welink_url(url: str, **options: str) -> str:
    """Map the robot's send URL onto `welink://`, keeping channel and adding `options`."""
    parts = urlsplit(url.strip())
    query = parse_qs(parts.query)
    token = query["token"][0]
    params: dict[str, str] = {"channel": query.get("channel", ["standard"])[0]}
    host = parts.netloc
    if parts.scheme == "http":
        params["secure"] = "no"
    params.update(options)
    where = (
        ""
        if host == DEFAULT_HOST and parts.path.rstrip("/") == DEFAULT_PATH
        else (f"@{host}{parts.path}")
    )
    return f"welink://{quote(token, safe='')}{where}?{urlencode(params)}"


def mention_prefix(at_all: bool, is_at: bool, at_accounts: list[str]) -> str:
    mentions = (["@all"] if at_all else []) + ([f"@{a}" for a in at_accounts] if is_at else [])
    return " ".join(mentions) + "\n" if mentions else ""


def robot_payload(
    body: str, title: str, *, at_all: bool, is_at: bool, at_accounts: list[str]
) -> dict[str, Any]:
    """The robot's JSON body: mentions first, text fitted to 500 with the link kept."""
    prefix = mention_prefix(at_all, is_at, at_accounts)
    # Apprise folds any title into the body (its plugin has title_maxlen = 0), with \r\n.
    text = "\n".join(part for part in (title, body) if part).replace("\r\n", "\n")
    text = fit_text(text.strip() or "(empty)", MAX_TEXT - len(prefix))
    return {
        "messageType": "text",
        "content": {"text": prefix + text},
        "timeStamp": int(time.time() * 1000),
        "uuid": str(uuid.uuid4()),
        "isAt": is_at,
        "isAtAll": at_all,
        "atAccounts": list(at_accounts) if is_at else [],
    }


@dataclass(frozen=True, slots=True)
class WeLinkRobot:
    """A parsed welink:// URL: what a send needs, and the Apprise plugin's privacy URL."""

    token: str
    endpoint_host: str = DEFAULT_HOST
    endpoint_path: str = DEFAULT_PATH
    channel: str = "standard"
    at_accounts: tuple[str, ...] = ()
    is_at: bool = False
    at_all: bool = False
    use_https: bool = True
    verify_certificate: bool = True  # our client always verifies; verify=no goes to Apprise

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.use_https else 'http'}://{self.endpoint_host}{self.endpoint_path}"

    def build_payload(self, body: str, title: str = "") -> dict[str, Any]:
        return robot_payload(body, title, at_all=self.at_all, is_at=self.is_at,
                             at_accounts=list(self.at_accounts))

    def privacy_url(self) -> str:
        """NotifyWeLink.url(privacy=True) without Apprise's send settings (stable_key drops
        them from every key)."""
        params: dict[str, str] = {"channel": self.channel}
        if self.at_accounts:
            params["at"] = ",".join(self.at_accounts)
        if self.is_at != bool(self.at_accounts):
            params["is_at"] = "yes" if self.is_at else "no"
        if self.at_all:
            params["at_all"] = "yes"
        if not self.use_https:
            params["secure"] = "no"
        token = f"{self.token[:1]}...{self.token[-1:]}"
        where = ("" if (self.endpoint_host, self.endpoint_path) == (DEFAULT_HOST, DEFAULT_PATH)
                 else f"@{self.endpoint_host}{quote(self.endpoint_path)}")
        return f"welink://{token}{where}?{urlencode(params)}"


def parse_welink(url: str) -> WeLinkRobot | None:
    """A welink:// URL of the forms in mrt/delivery/welink.py, when every part of it is one we
    read as Apprise does; None for anything else (Apprise's plugin then decides)."""
    if not is_welink_url(url) or "#" in url:
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [k for k, _ in query]
    if len(set(names)) != len(names) or not set(names) <= _OPTIONS:
        return None
    options = dict(query)
    token, at, host = parts.netloc, "", None
    if "@" in parts.netloc:
        token, _, host = parts.netloc.partition("@")
        if not _valid_endpoint(host) or not _PATH.fullmatch(parts.path):
            return None
    elif parts.path not in ("", "/"):
        return None
    at = options.get("at", "")
    accounts = tuple(a for a in at.split(",") if a)
    if (not _TOKEN.fullmatch(token) or len(token) < 2 or not _TOKEN.fullmatch(options.get("channel", "x"))
            or any(not _ACCOUNT.fullmatch(a) for a in accounts) or "," * 2 in at
            or any(options.get(k, "yes").lower() not in _FLAGS for k in ("is_at", "at_all", "secure"))
            or len(accounts) > MAX_AT_ACCOUNTS):
        return None
    is_at = flag(options["is_at"], False) if "is_at" in options else bool(accounts)
    if is_at and not accounts:
        return None  # Apprise's plugin refuses it, in its words
    return WeLinkRobot(
        token=unquote(token),
        endpoint_host=host or DEFAULT_HOST,
        endpoint_path=(parts.path.rstrip("/") or DEFAULT_PATH) if host else DEFAULT_PATH,
        channel=options.get("channel") or "standard",
        at_accounts=accounts,
        is_at=is_at,
        at_all=flag(options.get("at_all"), False),
        use_https=flag(options.get("secure"), True),
    )


def _valid_endpoint(hostport: str) -> bool:
    host, _, port = hostport.partition(":")
    return bool(_HOST.fullmatch(host)) and (not port or (port.isdigit() and 0 < int(port) < 65536))
