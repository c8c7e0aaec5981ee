"""One scrubber for every place a secret could leak: log lines, error texts, attempt reasons.

A secret is known by value (an environment variable the config names) and, when that value or
a configured channel URL is a URL, by its parts: the password, a token that is the host or
the path of a chat robot's URL (`welink://TOKEN`, `slack://A/B/C`), a long path segment, the
values of query parameters named like credentials (`?token=`, `?key=`). The parts matter
because libraries log pieces of a URL (urllib3: `"POST /api/...?token=... HTTP/1.1"`), never
the URL the config held.

A URL is masked, not blanked: scheme, host and the path that is not secret stay readable and
each secret part becomes `***` (`https://open.welink.huaweicloud.com/...?token=***`), and
nothing of a token is shown (Apprise's privacy form shows a token's first and last characters:
`mask_privacy_url` turns those into `***` as well).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would mangle ordinary words and cannot be real secrets
LONG_SEGMENT = 16  # a path segment this long is taken for a token (json://host/HOOKTOKEN...)

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S*")
SECRET_PARAM = re.compile(
    r"token|key|secret|pass|sign|sig$|auth(?!or)|webhook|sid|credential|^\+", re.IGNORECASE
)
# Schemes whose "host" (or user) and path are tokens: welink://TOKEN, slack://A/B/C, ...
TOKEN_HOST_SCHEMES = frozenset(
    {"welink", "dingtalk", "wecombot", "feishu", "lark", "slack", "discord", "tgram", "msteams"}
)
# Apprise's privacy forms that keep part of a token: "a...z" (Outer) and "...wxyz" (Tail).
_PARTIAL = re.compile(
    r"(?<![^/:@?&=#])(?:[^/:@?&=#.]\.\.\.[^/:@?&=#.]|\.\.\.[^/:@?&=#.]{1,4})(?![^/:@?&=#])"
)
# Secrets recognisable by shape, removed even when nobody named them.
_USERINFO_PASSWORD = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^/\s@]+@")
_QUERY_SECRET = re.compile(
    r"(?P<pre>[?&;](?:access_token|token|key|apikey|api_key|secret|password|pass|sig|signature)=)"
    r"(?!\*\*\*)[^&\s#\"']+",
    re.IGNORECASE,
)


def _split(url: str) -> tuple[str, str, str, str, list[str], str]:
    """(scheme, user, password, hostport, path segments, query) of a URL, never raising."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return parts.scheme.lower(), user, password, hostport, parts.path.split("/"), parts.query


def url_secret_parts(url: str) -> list[str]:
    """The parts of a URL that are credentials (as written and percent-decoded)."""
    scheme, user, password, hostport, segments, query = _split(url)
    found = [password]
    if scheme in TOKEN_HOST_SCHEMES and user:  # welink://TOKEN@proxy/path: the user only
        found.append(user)
    elif scheme in TOKEN_HOST_SCHEMES:
        found += [hostport.split(":")[0], *segments]
    else:
        found += [s for s in segments if len(s) >= LONG_SEGMENT]
    found += [v for k, v in parse_qsl(query, keep_blank_values=True) if SECRET_PARAM.search(k)]
    return [form for part in found if part for form in dict.fromkeys((part, unquote(part)))]


def mask_url(url: str) -> str:
    """The URL with each secret part replaced by `***`; the rest stays readable."""
    scheme, user, password, hostport, segments, query = _split(url)
    if not scheme:
        return MASK
    token_host = scheme in TOKEN_HOST_SCHEMES
    if password:
        password = MASK
    if token_host and user:  # welink://TOKEN@proxy/path: the host and path are an endpoint
        user, token_host = MASK, False
    elif token_host:
        host, colon, port = hostport.partition(":")
        hostport = (MASK if host else "") + colon + port
    segments = [MASK if s and (token_host or len(s) >= LONG_SEGMENT) else s for s in segments]
    pairs = [
        f"{k}={MASK}" if SECRET_PARAM.search(unquote(k)) and v else f"{k}={v}" if sep else k
        for k, sep, v in (p.partition("=") for p in query.split("&") if p)
    ]
    userinfo = user + (f":{password}" if password else "")
    netloc = f"{userinfo}@{hostport}" if userinfo else hostport
    path = "/".join(segments)
    return f"{scheme}://{netloc}{path}" + (f"?{'&'.join(pairs)}" if pairs else "")


def mask_privacy_url(privacy_url: str) -> str:
    """Apprise's `url(privacy=True)` with its partial token forms ("a...z") fully masked."""
    return _PARTIAL.sub(MASK, privacy_url)


def redact_shapes(text: str) -> str:
    """Secrets recognisable by shape: a password in a URL, credential-named query values."""
    text = _USERINFO_PASSWORD.sub(rf"\g<pre>{MASK}@", text)
    return _QUERY_SECRET.sub(rf"\g<pre>{MASK}", text)


class Scrubber:
    """Replaces every known secret in a text: values by `***`, URLs by their masked form.

    Each value is also matched percent-encoded and form-encoded (error texts quote URLs in
    either spelling); longer matches win, so no fragment of a longer secret survives.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        replacements: dict[str, str] = {}
        for secret in dict.fromkeys(s.strip() for s in secrets if s and s.strip()):
            pieces = [(secret, mask_url(secret) if URL.fullmatch(secret) else MASK)]
            if URL.fullmatch(secret):
                pieces += [(part, MASK) for part in url_secret_parts(secret)]
            for value, shown in pieces:
                for form in (value, quote(value, safe=""), quote_plus(value)):
                    if len(form) >= MIN_SECRET_CHARS and form != shown:
                        replacements.setdefault(form, shown)
        self.replacements = replacements
        alternatives = sorted(replacements, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(a) for a in alternatives)) if alternatives else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str, *, shapes: bool = True) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.replacements[m[0]], text)
        return redact_shapes(text) if shapes else text


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret in `secrets` (and every secret shape) removed."""
    return Scrubber(secrets)(text)
