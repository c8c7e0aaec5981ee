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


def test_the_loader_turns_watch_keywords_into_the_last_rule(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    explicit = {"name": "prs", "when": {"event_type": "pr_merged"}, "notify": True}
    path.write_text(json.dumps({"watch_keywords": ["deepseek", " ", "qwen"], "rules": [explicit]}))
    config = load_config(path, env={})
    assert config.watch_keywords == []  # nothing for later layers to read
    assert [(r.name, r.origin) for r in config.rules] == [
        ("prs", "rules"),
        ("watch_keywords", "watch_keywords"),
    ]
    assert config.watch_keyword_terms() == ["deepseek", "qwen"]
    assert config.watch_keyword_count() == 3
    ruleset = compile_rules(config)
    implicit = ruleset.rules[-1]
    assert (implicit.name, implicit.path, implicit.index) == ("watch_keywords", "watch_keywords", 1)
    assert [r.path for r in ruleset.rules] == ["rules[0] (prs)", "watch_keywords"]


def test_the_v0_example_keeps_the_rule_version_it_had(tmp_path: Path) -> None:
    # the digest v0 files had before the translation moved into the loader: a worker started
    # on the upgraded code sees the same rule version and replays nothing
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"watch_keywords": ["deepseek", "qwen"]}))
    canonical = compile_rules(load_config(path, env={})).canonical
    assert canonical["all_channels"] == []
    assert canonical["rules"] == [
        {
            "name": "watch_keywords",
            "origin": "watch_keywords",
            "when": {
                "keywords": {
                    "terms": ["deepseek", "qwen"],
                    "word": False,
                    "fields": ["title", "summary"],
                }
            },
            "notify": {"channels": None, "priority": None, "template": None},
            "suppress": False,
            "aggregate": None,
            "digest": None,
            "tags": [],
            "priority": None,
            "continue": False,
        }
    ]


def test_a_file_cannot_give_a_rule_the_v0_origin(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    rule = {"name": "r", "origin": "watch_keywords", "notify": True}
    path.write_text(json.dumps({"rules": [rule]}))
    with pytest.raises(InvalidConfig) as caught:
        load_config(path, env={})
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("rules[0].origin", "unknown key 'origin'")
    ]


def test_a_rule_named_watch_keywords_beside_the_list_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    rule = {"name": "watch_keywords", "when": {"source": "github"}, "notify": True}
    path.write_text(json.dumps({"watch_keywords": ["deepseek"], "rules": [rule]}))
    assert main(["check", "--config", str(path)]) != 0
    out = capsys.readouterr().out
    assert "rules[0] (watch_keywords)" in out
    assert "taken by the top-level watch_keywords list" in out


def test_config_show_prints_watch_keywords_as_the_rule_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"watch_keywords": ["deepseek"]}))
    assert main(["config", "show", "--config", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "watch_keywords" not in shown
    (rule,) = shown["rules"]
    assert (rule["name"], rule["origin"]) == ("watch_keywords", "watch_keywords")
    assert rule["when"]["keywords"]["terms"] == ["deepseek"]
