"""Which variables a config needs, what each costs when missing, and that values never leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.config import EnvRequirement, check_secrets, config_from_dict, env_requirements

EVERYTHING = {
    "state": {"url": "postgresql://mrt:${PG_PASSWORD}@db.internal/mrt"},
    "sources": {
        "github": {"repos": ["a/b"], "token_env": "GITHUB_TOKEN"},
        "huggingface": {"orgs": ["Qwen"], "token_env": "HF_TOKEN"},
        "ghe": {"type": "github", "repos": ["c/d"], "token_env": "GHE_TOKEN", "enabled": False},
    },
    "notify": {
        "welink": {},
        "email": {
            "smtp_host": "smtp.example.com",
            "user_env": "SMTP_USER",
            "password_env": "SMTP_PASSWORD",
            "to_list": ["ops@example.com"],
        },
    },
    "channels": {
        "team": {"urls": ["slack://${SLACK_TOKENS}/#releases"], "url_env": "TEAM_URL"},
    },
    "ai": {"enabled": True, "api_key_env": "AI_KEY"},
}


def test_env_requirements_lists_every_variable_with_its_field() -> None:
    reqs = env_requirements(config_from_dict(EVERYTHING))
    assert [(r.name, r.required, r.field) for r in reqs] == [
        ("PG_PASSWORD", True, "state.url"),
        ("GITHUB_TOKEN", False, "sources.github.token_env"),
        ("HF_TOKEN", False, "sources.huggingface.token_env"),
        # the disabled ghe section needs nothing
        ("WELINK_WEBHOOK_URL", True, "notify.welink.webhook_env"),
        ("SMTP_USER", True, "notify.email.user_env"),
        ("SMTP_PASSWORD", True, "notify.email.password_env"),
        ("SLACK_TOKENS", True, "channels.team.urls[0]"),
        ("TEAM_URL", True, "channels.team.url_env[0]"),
        ("AI_KEY", True, "ai.api_key_env"),
    ]
    github = reqs[1]
    assert github == EnvRequirement(
        "GITHUB_TOKEN",
        False,
        "sources.github.token_env",
        "without GITHUB_TOKEN GitHub allows 60 requests an hour; with it 5,000",
    )


def test_check_secrets_splits_required_from_optional() -> None:
    config = config_from_dict(EVERYTHING)
    env = {
        "PG_PASSWORD": "x",
        "SMTP_USER": "u",
        "SMTP_PASSWORD": "",  # empty is missing
        "SLACK_TOKENS": "a/b/c",
        "TEAM_URL": "json://h",
        "AI_KEY": "k",
    }
    errors, warnings = check_secrets(config, env)
    assert errors == [
        "WELINK_WEBHOOK_URL is not set (required by notify.welink.webhook_env): nothing can be "
        "sent to WeLink (the variable holds the robot's webhook URL)",
        "SMTP_PASSWORD is not set (required by notify.email.password_env): the SMTP login fails: "
        "no email is sent",
    ]
    assert [w.split(" is not set")[0] for w in warnings] == ["GITHUB_TOKEN", "HF_TOKEN"]


def test_a_variable_both_optional_and_required_is_reported_once_as_required() -> None:
    config = config_from_dict(
        {
            "sources": {"github": {"repos": ["a/b"], "token_env": "SHARED"}},
            "channels": {"gh": {"urls": ["github://${SHARED}@owner/repo"]}},
        }
    )
    errors, warnings = check_secrets(config, {})
    assert len(errors) == 1 and errors[0].startswith("SHARED is not set (required by channels.gh")
    assert warnings == []


def test_secret_values_never_appear_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = {
        "GITHUB_TOKEN": "ghp_TOPSECRET_GH_111",
        "HF_TOKEN": "hf_TOPSECRET_HF_222",
        "WELINK_WEBHOOK_URL": "https://welink.example.com/send?token=TOPSECRET_WL_333&channel=s",
        "SMTP_USER": "TOPSECRET_USER_444",
        "SMTP_PASSWORD": "TOPSECRET_PW_555",
        "SLACK_TOKENS": "TOPSECRETA/TOPSECRETB/TOPSECRETC",
        "TEAM_URL": "json://hooks.example.com/TOPSECRET_TEAM_666",
        "AI_KEY": "TOPSECRET_AI_777",
        "PG_PASSWORD": "TOPSECRET_PG_888",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    data = dict(EVERYTHING)
    data["state"] = {"sqlite_path": "mrt.sqlite3"}
    data["channels"] = {
        "team": {"urls": ["slack://${SLACK_TOKENS}/#releases"], "url_env": "TEAM_URL"},
        "db": {"urls": ["json://localhost/${PG_PASSWORD}"]},
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    outputs = []
    for argv in (["check", "--config", str(path)], ["config", "show", "--config", str(path)]):
        main(argv)
        out, err = capsys.readouterr()
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "SLACK_TOKENS" in text and "GITHUB_TOKEN" in text  # names are shown...
    assert "TOPSECRET" not in text  # ...values never


def test_a_token_for_an_own_server_does_not_quote_github_com_limits() -> None:
    config = config_from_dict(
        {
            "sources": {
                "ghe": {
                    "type": "github",
                    "repos": ["a/b"],
                    "token_env": "GHE_TOKEN",
                    "base_url": "https://github.example.com/api/v3",
                }
            }
        }
    )
    (req,) = env_requirements(config)
    assert (req.name, req.required, req.field) == ("GHE_TOKEN", False, "sources.ghe.token_env")
    assert req.when_missing == (
        "without GHE_TOKEN the source polls anonymously: private items unseen, lower rate limits"
    )
