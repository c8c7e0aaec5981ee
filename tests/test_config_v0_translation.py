"""v0 sections are translated once, by the loader, into the v1 model (issue 11, step 1).

After load_config, `notify.welink` is the channel "welink" and `notify.email` the channel
"email" in `config.channels`, each with the typed description its target is built from (secrets
stay variable names); nothing past the loader reads `config.notify`. `watch_keywords` is the
rule "watch_keywords" after the explicit ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.config import InvalidConfig, NotifyV0, load_config
from mrt.delivery import channels
from mrt.delivery.render import channel_is_length_bound, channel_kind
from mrt.rules import compile_rules

WEBHOOK = "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=tok9&channel=s"
V0 = {
    "watch_keywords": ["deepseek"],
    "notify": {
        "welink": {"at_accounts": ["u1"]},
        "email": {
            "smtp_host": "smtp.example.org",
            "user_env": "SMTP_USER",
            "password_env": "SMTP_PASS",
            "to_list": ["ops@example.org"],
        },
    },
    "channels": {"console": {"type": "console"}},
}
ENV = {"WELINK_WEBHOOK_URL": WEBHOOK, "SMTP_USER": "bot@example.org", "SMTP_PASS": "pw-secret-7"}


@pytest.fixture
def v0_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(V0))
    return path


def test_the_loader_turns_v0_notify_sections_into_channels(v0_file: Path) -> None:
    config = load_config(v0_file, env=ENV)
    assert config.notify == NotifyV0()  # nothing left for later layers to read
    assert list(config.channels) == ["console", "welink", "email"]  # v0's order: after v1's
    robot = config.channels["welink"].welink_robot
    assert robot is not None and robot.at_accounts == ["u1"] and robot.is_at is True
    smtp = config.channels["email"].smtp
    assert smtp is not None and (smtp.smtp_host, smtp.user_env) == ("smtp.example.org", "SMTP_USER")
    # the delivery layer sends them from the channels alone, as v0 did
    targets = channels.resolve_targets(config, ENV)
    assert [t.kind for t in targets["welink"]] == ["welink"]
    assert targets["email"][0].key.startswith("mailtos://")
    assert "pw-secret-7" not in targets["email"][0].key
    assert channel_kind(config, "email") == "email" and channel_kind(config, "welink") == "chat"
    assert channel_is_length_bound(config, "welink")
    assert not channel_is_length_bound(config, "email")


def test_rules_see_the_translated_channels_in_v0_order(v0_file: Path) -> None:
    ruleset = compile_rules(load_config(v0_file, env=ENV))
    assert ruleset.all_channels == ("console", "welink", "email")
    assert [r.name for r in ruleset.rules] == ["watch_keywords"]


def test_a_file_cannot_write_the_translated_description(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"channels": {"team": {"urls": ["json://h/"], "smtp": {"smtp_host": "h"}}}})
    )
    with pytest.raises(InvalidConfig) as caught:
        load_config(path, env={})
    problems = caught.value.problems
    assert [p.path for p in problems] == ["channels.team.smtp"]
    assert "unknown key 'smtp'" in problems[0].message
    assert "notify.email" in problems[0].message


def test_config_show_prints_v0_sections_as_the_channels_they_are(
    v0_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["config", "show", "--config", str(v0_file)]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert "notify" not in shown
    assert shown["channels"]["email"]["smtp"]["password_env"] == "SMTP_PASS"
    assert shown["channels"]["welink"]["welink_robot"]["webhook_env"] == "WELINK_WEBHOOK_URL"
    assert "smtp" not in shown["channels"]["console"]
    assert "pw-secret-7" not in out and "tok9" not in out
