"""v0 input, read the way v0 read it: what v0 accepted, MRT runs, with the same meaning.

v0 read its optional values as `section.get(key) or default`: an empty string, null and a missing
key all meant the default ("" for user_env meant "no login"; for token_env, "anonymous"). The v1
models are strict, so this pass runs on the parsed file before them, touches only v0's own keys,
and rewrites each value that v0 accepted but the models refuse into what it meant in v0. Where
MRT then does something the user might not expect (a 5 s interval, no sender address), it says so
with a ConfigWarning: `mrt check` prints them and the worker logs them on start and reload.

    relax_v0(data, file) -> (data, warnings)        before validation; `data` is not modified
    v0_state_file(data, cwd, file) -> (data, warnings)   v0's ./mrt_state.sqlite3, if it is there
    env_warnings(config, env, file) -> warnings     the ones that need the environment (sender)
    default_sender() -> "mrt@<hostname>"            the sender when no address is known
    without_translation_keys(data, file) -> (data, problems)   a file may not write the
                                                    fields only the v0 translation sets

After validation, `Config` itself translates v0's sections into the v1 model (models.py):
notify.welink / notify.email become the channels "welink" / "email" (ChannelConfig's
`welink_robot` / `smtp`), watch_keywords the last rule, "watch_keywords" (RuleConfig's `origin`).

The new v1 sections and keys keep their strict validation.
"""

from __future__ import annotations

import copy
import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrt.config.errors import ConfigProblem, show_value

if TYPE_CHECKING:
    from mrt.config.models import Config

MIN_INTERVAL_SECONDS = 10  # below this, v1 calls an interval unwise (v0 accepted it)
MAX_INTERVAL_SECONDS = 365 * 24 * 3600  # a year; larger values overflow date arithmetic
V0_SOURCES = ("github", "huggingface", "modelscope")
V0_STATE_FILE = "mrt_state.sqlite3"
_TRUE = frozenset({"true", "yes", "1", "on", "y", "t"})


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A value MRT runs, but not the way the file might suggest; `instead` says what it does."""

    path: str  # dotted: notify.email.from_addr
    found: str  # what the file holds, as shown to a human (never a secret)
    instead: str  # what MRT does
    file: str | None = None

    def text(self) -> str:
        return f"found {self.found}; {self.instead}"

    def line(self) -> str:
        return ": ".join(p for p in (self.file, self.path, self.text()) if p)


def default_sender() -> str:
    """`mrt@<hostname>`: v0 sent as the SMTP login name; with no login there is none.

    A host name without a dot gets `.localdomain`, so the sender is an address that mail
    libraries (Apprise among them) and relays accept.
    """
    host = re.sub(r"[^a-z0-9.-]", "", socket.gethostname().lower()).strip(".-") or "localhost"
    return f"mrt@{host}" if "." in host else f"mrt@{host}.localdomain"


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


class _Pass:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.warnings: list[ConfigWarning] = []

    def warn(self, path: str, found: Any, instead: str) -> None:
        # null and true in JSON's spelling: a v0 file is JSON
        plain = found is None or isinstance(found, bool)
        shown = json.dumps(found) if plain else show_value(found, ())
        self.warnings.append(ConfigWarning(path, shown, instead, self.file))

    def drop_empty(self, section: dict[str, Any], keys: tuple[str, ...]) -> None:
        """v0's `get(key) or default`: "" and null mean "not given"."""
        for key in keys:
            if key in section and _empty(section[key]):
                del section[key]

    def interval(self, data: dict[str, Any]) -> None:
        value = data.get("poll_interval_seconds")
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)  # v0 took "5" as 5, as the model does
            data["poll_interval_seconds"] = value
        if not isinstance(value, int) or isinstance(value, bool):
            return  # the model says what is wrong with it
        path = "poll_interval_seconds"
        if value > MAX_INTERVAL_SECONDS:
            data[path] = MAX_INTERVAL_SECONDS
            self.warn(
                path,
                value,
                f"more than the maximum {MAX_INTERVAL_SECONDS} (365 days): MRT polls every "
                f"{MAX_INTERVAL_SECONDS} s (`mrt-worker --once` still polls on every run)",
            )
        elif value <= 0:
            data[path] = 0
            self.warn(
                path, value, "MRT polls as often as each host's request budget allows, no more"
            )
        elif value < MIN_INTERVAL_SECONDS:
            self.warn(
                path,
                value,
                f"less than {MIN_INTERVAL_SECONDS} s: MRT polls every {value} s as v0 did, "
                "but never more often than each host's request budget allows",
            )

    def keywords(self, data: dict[str, Any]) -> None:
        words = data.get("watch_keywords")
        if words is None and "watch_keywords" in data:
            del data["watch_keywords"]
        if not isinstance(words, list):
            return
        for index, word in enumerate(words):
            if word == "":
                self.warn(f"watch_keywords[{index}]", word, "an empty keyword: ignored")
        data["watch_keywords"] = [w for w in words if w != ""]

    def state(self, data: dict[str, Any]) -> None:
        state = data.get("state")
        if isinstance(state, dict) and state.get("sqlite_path") == "":
            del state["sqlite_path"]
            self.warn(
                "state.sqlite_path",
                "",
                "MRT uses its default database in the user data directory (v0's default was "
                "./mrt_state.sqlite3: name it to keep using that file)",
            )
        elif isinstance(state, dict):
            self.drop_empty(state, ("sqlite_path",))

    def sources(self, data: dict[str, Any]) -> None:
        sources = data.get("sources")
        if not isinstance(sources, dict):
            return
        for name in V0_SOURCES:
            section = sources.get(name)
            if not isinstance(section, dict) or section.get("type") not in (None, name):
                continue
            where = f"sources.{name}"
            if "token_env" in section and _empty(section["token_env"]):
                found = section.pop("token_env")
                self.warn(
                    f"{where}.token_env",
                    found,
                    "no token: the source polls anonymously, as v0 did (lower rate limits)",
                )
            if isinstance(section.get("monitor"), dict):
                self.drop_empty(section["monitor"], ("issues", "pulls"))
            self.drop_empty(section, ("monitor",))
            listed = "repos" if name == "github" else "orgs"
            if listed in section and section[listed] in (None, []):
                del sources[name]
                what = "repositories" if listed == "repos" else "organisations"
                self.warn(
                    f"{where}.{listed}",
                    section[listed],
                    f"no {what}: the section watches nothing (as in v0), so MRT skips it",
                )

    def welink(self, notify: dict[str, Any]) -> None:
        welink = notify.get("welink")
        if not isinstance(welink, dict):
            return
        if "webhook_env" in welink and _empty(welink["webhook_env"]):
            found = welink.pop("webhook_env")
            self.warn(
                "notify.welink.webhook_env",
                found,
                "MRT reads the default variable WELINK_WEBHOOK_URL, as v0 did",
            )
        self.drop_empty(welink, ("is_at", "is_at_all"))
        if welink.get("at_accounts", []) is None:
            welink["at_accounts"] = []
        accounts = welink.get("at_accounts", [])
        if _truthy(welink.get("is_at")) and isinstance(accounts, list) and not accounts:
            welink["is_at"] = False
            self.warn(
                "notify.welink.is_at",
                True,
                "at_accounts is empty, so nobody can be mentioned: MRT sends without a mention",
            )

    def email(self, notify: dict[str, Any]) -> None:
        email = notify.get("email")
        if not isinstance(email, dict):
            return
        # v0 logged in only when user_env named a user; "" or null: an internal relay, no login
        self.drop_empty(email, ("user_env", "password_env", "smtp_port", "use_tls"))
        if "password_env" in email and "user_env" not in email:
            found = email.pop("password_env")
            self.warn(
                "notify.email.password_env",
                found,
                "set without user_env: v0 logged in only with a user name, so MRT does not log "
                "in and does not read the password",
            )
        if "to_list" in email and email["to_list"] in (None, []):
            del notify["email"]
            self.warn(
                "notify.email.to_list",
                email["to_list"],
                "no recipients: MRT sends no email (neither did v0); the email channel is off",
            )


def relax_v0(
    data: Mapping[str, Any], file: str | None = None
) -> tuple[dict[str, Any], list[ConfigWarning]]:
    """A copy of `data` with v0's accepted values rewritten into their meaning, and the warnings."""
    out = copy.deepcopy(dict(data))
    run = _Pass(file)
    run.interval(out)
    run.keywords(out)
    run.state(out)
    run.sources(out)
    notify = out.get("notify")
    if isinstance(notify, dict):
        run.welink(notify)
        run.email(notify)
    return out, run.warnings


def v0_state_file(
    data: Mapping[str, Any], cwd: Path, file: str | None = None
) -> tuple[dict[str, Any], list[ConfigWarning]]:
    """v0's default database when a file without `version` names none and that file is here.

    With no `state.sqlite_path`, v0 wrote `./mrt_state.sqlite3`; MRT's default is the user data
    directory. Starting there would lose v0's cursors and record a new baseline, so an existing
    `./mrt_state.sqlite3` is kept (nothing is ever created in the current directory).
    """
    state = data.get("state", {})
    if "version" in data or not isinstance(state, dict) or state.get("url"):
        return dict(data), []
    if not _empty(state.get("sqlite_path", "")) or not (cwd / V0_STATE_FILE).is_file():
        return dict(data), []
    out = {**data, "state": {**state, "sqlite_path": f"./{V0_STATE_FILE}"}}
    why = (
        f"./{V0_STATE_FILE} (v0's default database) is in the current directory: MRT keeps "
        "using it; name it in state.sqlite_path to make that explicit"
    )
    return out, [ConfigWarning("state.sqlite_path", "nothing", why, file)]


def env_warnings(
    config: Config, env: Mapping[str, str], file: str | None = None
) -> list[ConfigWarning]:
    """What depends on the environment: the email sender when the file gives no from_addr."""
    email = next((c.smtp for c in config.channels.values() if c.smtp is not None), None)
    if email is None or email.from_addr is not None:
        return []
    sender = default_sender()
    where = "notify.email.from_addr"
    if email.user_env is None:
        why = "no login name to send as (v0 sent as the login name)"
        return [ConfigWarning(where, "nothing", f"{why}: MRT sends as {sender}", file)]
    user = env.get(email.user_env) or ""
    if user and "@" not in user:
        why = f"the login name in {email.user_env} is not an email address"
        return [ConfigWarning(where, "nothing", f"{why}: MRT sends as {sender}", file)]
    return []


INTERNAL_CHANNEL_KEYS = ("welink_robot", "smtp")  # set by the v0 translation (models.Config)
INTERNAL_RULE_KEYS = ("origin", "blank_keywords")


def without_translation_keys(
    data: Mapping[str, Any], file: str | None = None
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """`data` without the channel and rule fields only the v0 translation sets, and a problem
    ("unknown key") for each a file wrote."""
    out = dict(data)
    problems: list[ConfigProblem] = []
    channels = out.get("channels")
    if isinstance(channels, dict):
        out["channels"] = {
            name: _without(channel, INTERNAL_CHANNEL_KEYS, f"channels.{name}", file, problems)
            for name, channel in channels.items()
        }
    rules = out.get("rules")
    if isinstance(rules, list):
        out["rules"] = [
            _without(rule, INTERNAL_RULE_KEYS, f"rules[{index}]", file, problems)
            for index, rule in enumerate(rules)
        ]
    return out, problems


def _without(
    section: Any, keys: tuple[str, ...], where: str, file: str | None, problems: list[ConfigProblem]
) -> Any:
    if not isinstance(section, dict):
        return section
    for key in (k for k in keys if k in section):
        hint = {
            "welink_robot": " (a v0 notify section becomes this channel; write notify.welink)",
            "smtp": " (a v0 notify section becomes this channel; write notify.email)",
        }.get(key, "")
        problems.append(ConfigProblem(f"unknown key {key!r}{hint}", f"{where}.{key}", file))
    return {k: v for k, v in section.items() if k not in keys}
