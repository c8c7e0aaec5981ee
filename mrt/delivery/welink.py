"""WeLink group robot as an Apprise plugin of ours (`welink://`).

URL forms (the token is the secret):

    welink://TOKEN                               the public robot endpoint, channel=standard
    welink://TOKEN@HOST[:PORT][/PATH]?secure=no  another endpoint (a proxy, a loopback fake)
    options: channel=standard, at=u1,u2 (atAccounts, at most 10), is_at=yes|no (default: at
             is not empty), at_all=yes|no

Mentions as v0 made them: `@all` first when at_all, then `@userid` for each account when is_at,
then a newline and the text. is_at=no with accounts sends neither prefixes nor atAccounts.

The robot's own https URL (`.../api/werobot/v1/webhook/send?token=...&channel=...`, what v0's
WELINK_WEBHOOK_URL holds) is accepted too: `webhook_to_welink_url` maps it onto the form above.

Registration is explicit (`register_welink()`, idempotent), never an import side effect.
"""

# Apprise is typed loosely (untyped helpers, attributes its subclasses turn into properties):
# this module is the seam to it, so those two checks stay off here only.
# mypy: disable-error-code="no-untyped-call,override,assignment"

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from apprise import NotifyBase, PrivacyMode
from apprise.exception import AppriseImproperlyConfigured
from apprise.manager_plugins import NotificationManager

# the URL forms, payload and answer codes, shared with our own sender (no Apprise there)
from mrt.delivery.welink_robot import (
    DEFAULT_HOST,
    DEFAULT_PATH,
    KNOWN_CODES,
    MAX_AT_ACCOUNTS,
    MAX_TEXT,
    is_welink_url,
    is_welink_webhook,
    mention_prefix,
    robot_payload,
    webhook_to_welink_url,
)
from mrt.delivery.welink_robot import flag as _flag
from mrt.delivery.welink_robot import valid_host as _valid_host

__all__ = ["DEFAULT_HOST", "DEFAULT_PATH", "KNOWN_CODES", "MAX_TEXT", "NotifyWeLink",
           "WeLinkAnswer", "is_welink_url", "is_welink_webhook", "register_welink",
           "webhook_to_welink_url"]


@dataclass(frozen=True, slots=True)
class WeLinkAnswer:
    """What the robot said to the last send: read by the apprise channel for SendOutcome."""

    http_status: int | None = None
    vendor_code: str | None = None
    retryable: bool = True
    error_class: str | None = None
    message: str | None = None


class NotifyWeLink(NotifyBase):
    service_name = "WeLink"
    service_url = "https://open.welink.huaweicloud.com/"
    secure_protocol = "welink"
    protocol = None
    request_rate_per_sec = 0  # spacing is the outbox sender's job, not a sleep in here
    title_maxlen = 0  # the robot has no title: title and body share one text
    body_maxlen = MAX_TEXT

    templates = ("{schema}://{token}", "{schema}://{token}@{host}")
    template_tokens = dict(
        NotifyBase.template_tokens,
        token={"name": "Token", "type": "string", "private": True, "required": True},
        host={"name": "Host", "type": "string"},
    )
    template_args = dict(
        NotifyBase.template_args,
        channel={"name": "Channel", "type": "string", "default": "standard"},
        at={"name": "At accounts", "type": "list:string"},
        is_at={"name": "Is at", "type": "bool"},
        at_all={"name": "At all", "type": "bool", "default": False},
        secure={"name": "Use https", "type": "bool", "default": True},
    )

    def __init__(
        self,
        token: str | None = None,
        endpoint_host: str | None = None,
        channel: str | None = None,
        at_accounts: list[str] | None = None,
        is_at: bool | None = None,
        at_all: bool = False,
        use_https: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not token:
            raise AppriseImproperlyConfigured(
                "welink:// needs a token (welink://TOKEN or welink://TOKEN@HOST[:PORT]/PATH)"
            )
        if endpoint_host is not None and not _valid_host(endpoint_host):
            raise AppriseImproperlyConfigured(
                f"welink://TOKEN@{endpoint_host}: the endpoint is not a valid host[:port]"
            )
        self.token = token
        self.endpoint_host = endpoint_host or DEFAULT_HOST
        self.endpoint_path = (kwargs.get("fullpath") or "").rstrip("/") or DEFAULT_PATH
        if not endpoint_host:
            self.endpoint_path = DEFAULT_PATH
        self.channel = channel or "standard"
        self.at_accounts = [a for a in (at_accounts or []) if a]
        if len(self.at_accounts) > MAX_AT_ACCOUNTS:
            raise AppriseImproperlyConfigured(
                f"welink:// at most {MAX_AT_ACCOUNTS} at accounts, got {len(self.at_accounts)}"
            )
        self.is_at = bool(self.at_accounts) if is_at is None else is_at
        if self.is_at and not self.at_accounts:
            raise AppriseImproperlyConfigured("welink:// is_at=yes needs at least one account")
        self.at_all = at_all
        self.use_https = use_https
        self.answer: WeLinkAnswer | None = None

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.use_https else "http"
        return f"{scheme}://{self.endpoint_host}{self.endpoint_path}"

    def mention_prefix(self) -> str:
        return mention_prefix(self.at_all, self.is_at, self.at_accounts)

    def build_payload(self, body: str, title: str = "") -> dict[str, Any]:
        """The robot's JSON body: mentions first, text fitted to 500 with the link kept."""
        return robot_payload(body, title, at_all=self.at_all, is_at=self.is_at,
                             at_accounts=self.at_accounts)

    def send(self, body: str, title: str = "", **kwargs: Any) -> bool:
        payload = self.build_payload(body, title)
        self.throttle()
        try:
            response = requests.post(
                self.endpoint,
                params={"token": self.token, "channel": self.channel},
                data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                headers={"User-Agent": self.app_id, "Content-Type": "application/json"},
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            return self._failed(WeLinkAnswer(error_class="Timeout", message=type(exc).__name__))
        except requests.RequestException as exc:
            return self._failed(
                WeLinkAnswer(error_class="ConnectionError", message=type(exc).__name__)
            )
        return self._read_answer(response.status_code, response.content)

    def _read_answer(self, status: int, content: bytes) -> bool:
        code: str | None = None
        reason = ""
        try:
            answer = json.loads(content or b"null")
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            code = None if answer.get("code") is None else str(answer.get("code"))
            reason = str(answer.get("message") or answer.get("data") or "")[:200]
        if status == 200 and code == "0":
            self.answer = WeLinkAnswer(http_status=200, vendor_code="0", message="ok")
            self.logger.info("Sent WeLink notification.")
            return True
        if status != 200:
            retryable = status >= 500 or status in {408, 425, 429}
            return self._failed(
                WeLinkAnswer(
                    http_status=status,
                    vendor_code=code,
                    retryable=retryable,
                    error_class="HttpError",
                    message=f"HTTP {status}" + (f": {reason}" if reason else ""),
                )
            )
        meaning, retryable = KNOWN_CODES.get(code or "", ("unexpected answer", True))
        return self._failed(
            WeLinkAnswer(
                http_status=status,
                vendor_code=code,
                retryable=retryable,
                error_class="VendorError",
                message=f"code {code}: {meaning}" + (f" ({reason})" if reason else ""),
            )
        )

    def _failed(self, answer: WeLinkAnswer) -> bool:
        self.answer = answer
        # Never the URL here: the token is the secret.
        self.logger.warning(
            "Failed to send WeLink notification: %s, error=%s.",
            answer.message,
            answer.http_status if answer.http_status is not None else "none",
        )
        return False

    @property
    def url_identifier(self) -> tuple[Any, ...]:
        return (self.secure_protocol, self.token, self.endpoint_host, self.endpoint_path)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params: dict[str, str] = {"channel": self.channel}
        if self.at_accounts:
            params["at"] = ",".join(self.at_accounts)
        if self.is_at != bool(self.at_accounts):
            params["is_at"] = "yes" if self.is_at else "no"
        if self.at_all:
            params["at_all"] = "yes"
        if not self.use_https:
            params["secure"] = "no"
        params.update(self.url_parameters(*args, privacy=privacy, **kwargs))
        token = self.pprint(self.token, privacy, mode=PrivacyMode.Outer, safe="")
        where = (
            ""
            if self.endpoint_host == DEFAULT_HOST and self.endpoint_path == DEFAULT_PATH
            else f"@{self.endpoint_host}{quote(self.endpoint_path)}"
        )
        return f"welink://{token}{where}?{self.urlencode(params)}"

    def __len__(self) -> int:
        return 1

    @staticmethod
    def parse_url(
        url: str, verify_host: bool = False, plus_to_space: bool = False
    ) -> dict[str, Any] | None:
        results: dict[str, Any] | None = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        qsd: dict[str, str] = results["qsd"]
        if results.get("user") == "" or results.get("password") is not None:
            results["token"] = None  # "welink://@host", "welink://:x@host": no token before @
        elif results.get("user"):
            results["token"] = NotifyWeLink.unquote(results["user"])
            host = results["host"]
            if results.get("port") is not None:
                host = f"{host}:{results['port']}"
            results["endpoint_host"] = host
            results["user"] = None
        else:
            results["token"] = NotifyWeLink.unquote(results["host"])
            results["fullpath"] = None
        results["channel"] = qsd.get("channel") or "standard"
        results["at_accounts"] = NotifyWeLink.parse_list(qsd.get("at", ""))
        results["is_at"] = _flag(qsd["is_at"], False) if "is_at" in qsd else None
        results["at_all"] = _flag(qsd.get("at_all"), False)
        results["use_https"] = _flag(qsd.get("secure"), True)
        return results

    @staticmethod
    def parse_native_url(url: str) -> dict[str, Any] | None:
        if not is_welink_webhook(url):
            return None
        return NotifyWeLink.parse_url(webhook_to_welink_url(url))


def register_welink(manager: NotificationManager | None = None) -> None:
    """Make `welink://` known to Apprise. Idempotent; call before building Apprise objects.

    Apprise keeps one process-wide plugin registry (its NotificationManager singleton); adding
    our class there is the documented way (`N_MGR.add`) to bring a custom plugin.
    """
    registry = manager if manager is not None else NotificationManager()
    if "welink" in registry and registry["welink"] is NotifyWeLink:
        return
    registry.add(NotifyWeLink, schemas=["welink"], force=True)
