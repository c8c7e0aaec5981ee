"""Loading: the v0 example means what it meant, TOML equals JSON, discovery order, the default."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import platformdirs
import pytest

from mrt.config import (
    ChannelConfig,
    Config,
    InvalidConfig,
    config_from_dict,
    database_target,
    default_config,
    load_config,
)
from mrt.sources import github, huggingface, modelscope

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "share" / "examples"
V0_EXAMPLE = EXAMPLES / "v0-config.json"
SEED = Path("/work/shared/seeds/002_3ef3080b45a560e2.txt")


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("MRT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_v0_example_is_the_seed_verbatim() -> None:
    if not SEED.exists():
        pytest.skip("the seed documents are not in this checkout")
    seed = SEED.read_text(encoding="utf-8")
    assert V0_EXAMPLE.read_text(encoding="utf-8") in seed


def test_v0_example_means_what_it_meant_in_v0(isolated: Path) -> None:
    config = load_config(V0_EXAMPLE)
    assert config.source_path == V0_EXAMPLE
    assert config.poll_interval_seconds == 300
    assert config.watch_keyword_terms() == ["deepseek", "qwen"]  # the rule they became
    assert config.state.sqlite_path == "./mrt_state.sqlite3"
    assert database_target(config) == str(isolated / "mrt_state.sqlite3")  # relative to cwd, as v0
    assert list(config.sources) == ["github", "huggingface", "modelscope"]

    gh = config.sources["github"]
    assert isinstance(gh, github.Config)
    assert gh.type == "github"
    assert gh.repos == ["vllm-project/vllm", "sgl-project/sglang"]
    assert (gh.monitor.issues, gh.monitor.pulls) == (True, True)
    assert gh.token_env == "GITHUB_TOKEN"
    assert gh.interval_seconds is None  # falls back to poll_interval_seconds

    hf = config.sources["huggingface"]
    assert isinstance(hf, huggingface.Config)
    assert (hf.type, hf.orgs, hf.token_env) == ("huggingface", ["deepseek-ai"], "HF_TOKEN")

    ms = config.sources["modelscope"]
    assert isinstance(ms, modelscope.Config)
    assert (ms.type, ms.orgs, ms.token_env) == ("modelscope", ["deepseek-ai"], None)

    welink = config.channels["welink"].welink_robot
    assert welink is not None
    assert welink.webhook_env == "WELINK_WEBHOOK_URL"
    assert (welink.is_at, welink.is_at_all, welink.at_accounts) == (False, False, [])
    assert "email" not in config.channels
    assert list(config.channels) == ["welink"]  # notify.welink, translated at load
    assert config.channel_names() == ("welink",)


@pytest.mark.parametrize(
    ("welink", "is_at"),
    [
        ({}, False),  # absent, no accounts
        ({"at_accounts": ["zhangsan"]}, True),  # absent, accounts: v0 defaulted to true
        ({"at_accounts": ["zhangsan"], "is_at": False}, False),  # explicit wins
        ({"at_accounts": ["zhangsan"], "is_at": "false"}, False),  # v0 made this True: a bug
        ({"at_accounts": ["zhangsan"], "is_at": "yes"}, True),
    ],
)
def test_welink_is_at_defaults_like_v0(welink: dict[str, object], is_at: bool) -> None:
    config = config_from_dict({"notify": {"welink": welink}})
    assert config.channels["welink"].welink_robot is not None
    assert config.channels["welink"].welink_robot.is_at is is_at
    assert config.channels["welink"].welink_robot.webhook_env == "WELINK_WEBHOOK_URL"


def test_email_defaults_like_v0() -> None:
    config = config_from_dict(
        {
            "notify": {
                "email": {
                    "smtp_host": "smtp.example.com",
                    "user_env": "SMTP_USER",
                    "password_env": "SMTP_PASSWORD",
                    "to_list": ["ops@example.com"],
                }
            }
        }
    )
    email = config.channels["email"].smtp
    assert email is not None
    assert (email.smtp_port, email.use_tls) == (587, True)
    assert (email.user_env, email.password_env) == ("SMTP_USER", "SMTP_PASSWORD")
    assert config.channel_names() == ("email",)


def test_what_v0_accepted_unambiguously_still_loads() -> None:
    config = config_from_dict(
        {
            "poll_interval_seconds": "600",
            "sources": {
                "github": {"repos": ["a/b"], "monitor": {"issues": "no", "pulls": 1}},
                "modelscope": {"orgs": ["Qwen"], "enabled": "true"},
            },
            "notify": {
                "email": {
                    "smtp_host": "smtp.example.com",
                    "smtp_port": "465",
                    "use_tls": "0",
                    "to_list": ["a@example.com"],
                }
            },
        }
    )
    assert config.poll_interval_seconds == 600
    gh = config.sources["github"]
    assert isinstance(gh, github.Config)
    assert (gh.monitor.issues, gh.monitor.pulls) == (False, True)
    assert config.sources["modelscope"].enabled is True
    email = config.channels["email"].smtp
    assert email is not None
    assert (email.smtp_port, email.use_tls) == (465, False)


def test_toml_and_json_give_equal_configs(tmp_path: Path) -> None:
    data = json.loads(V0_EXAMPLE.read_text())
    toml_text = """
poll_interval_seconds = 300
watch_keywords = ["deepseek", "qwen"]
state = { sqlite_path = "./mrt_state.sqlite3" }

[sources.github]
repos = ["vllm-project/vllm", "sgl-project/sglang"]
monitor = { issues = true, pulls = true }
token_env = "GITHUB_TOKEN"

[sources.huggingface]
orgs = ["deepseek-ai"]
token_env = "HF_TOKEN"

[sources.modelscope]
orgs = ["deepseek-ai"]

[notify.welink]
webhook_env = "WELINK_WEBHOOK_URL"
is_at = false
is_at_all = false
at_accounts = []
"""
    assert tomllib.loads(toml_text) == data
    as_toml = tmp_path / "config.toml"
    as_toml.write_text(toml_text)
    as_json = tmp_path / "config.json"
    as_json.write_text(json.dumps(data))
    no_extension_toml = tmp_path / "mrtrc"
    no_extension_toml.write_text(toml_text)
    no_extension_json = tmp_path / "mrt-conf"
    no_extension_json.write_text(json.dumps(data))
    configs = [load_config(p) for p in (as_toml, as_json, no_extension_toml, no_extension_json)]
    dumps = [c.model_dump() for c in configs]
    assert all(d == dumps[0] for d in dumps)
    assert all(c.sources == configs[0].sources for c in configs)


def test_discovery_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = isolated / "xdg-config" / "mrt"
    assert platformdirs.user_config_path("mrt") == user_dir  # XDG_CONFIG_HOME is honoured

    # nothing anywhere: the built-in default
    assert load_config().source_path is None
    assert load_config() == default_config()

    user_dir.mkdir(parents=True)
    (user_dir / "config.json").write_text('{"poll_interval_seconds": 400}')
    assert load_config().poll_interval_seconds == 400
    (user_dir / "config.toml").write_text("poll_interval_seconds = 500\n")
    assert load_config().poll_interval_seconds == 500  # config.toml before config.json

    env_file = isolated / "from-env.toml"
    env_file.write_text("poll_interval_seconds = 600\n")
    monkeypatch.setenv("MRT_CONFIG", str(env_file))
    assert load_config().poll_interval_seconds == 600
    # an explicit env mapping is used instead of the process environment
    assert load_config(env={}).poll_interval_seconds == 500

    arg_file = isolated / "from-arg.json"
    arg_file.write_text('{"poll_interval_seconds": 700}')
    assert load_config(arg_file).poll_interval_seconds == 700
    assert load_config(str(arg_file)).source_path == arg_file


def test_default_config_is_the_v0_targets_on_the_console() -> None:
    config = default_config()
    assert config.watch_keyword_terms() == ["deepseek", "qwen"]  # the rule they became
    gh = config.sources["github"]
    assert isinstance(gh, github.Config)
    assert gh.repos == ["vllm-project/vllm", "sgl-project/sglang"]
    assert (gh.monitor.issues, gh.monitor.pulls) == (True, True)
    hf, ms = config.sources["huggingface"], config.sources["modelscope"]
    assert isinstance(hf, huggingface.Config) and hf.orgs == ["deepseek-ai"]
    assert isinstance(ms, modelscope.Config) and ms.orgs == ["deepseek-ai"]
    assert config.channels == {"console": ChannelConfig(type="console")}
    assert "welink" not in config.channels and "email" not in config.channels


def test_database_target(isolated: Path) -> None:
    assert database_target(default_config()) == str(isolated / "xdg-data" / "mrt" / "mrt.sqlite3")
    relative = config_from_dict({"state": {"sqlite_path": "data/state.db"}})
    assert database_target(relative) == str(isolated / "data" / "state.db")
    home = config_from_dict({"state": {"sqlite_path": "~/mrt.db"}})
    assert database_target(home) == str(Path.home() / "mrt.db")
    pg = config_from_dict({"state": {"url": "postgresql://mrt:${PGPASS}@db.internal/mrt"}})
    assert database_target(pg, {"PGPASS": "s3cret"}) == "postgresql://mrt:s3cret@db.internal/mrt"


def test_a_second_section_names_its_plugin_with_type() -> None:
    config = config_from_dict(
        {
            "sources": {
                "ghe": {
                    "type": "github",
                    "repos": ["team/serving"],
                    "base_url": "https://github.example.com/api/v3",
                }
            }
        }
    )
    section = config.sources["ghe"]
    assert isinstance(section, github.Config)
    assert section.type == "github"
    assert section.base_url == "https://github.example.com/api/v3"


def test_schema_pointer_is_allowed_and_source_path_is_not() -> None:
    assert config_from_dict({"$schema": "./mrt-config.schema.json"}) == Config()
    with pytest.raises(InvalidConfig, match="unknown key 'source_path'; did you mean 'sources'"):
        config_from_dict({"source_path": "/etc/passwd"})


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_shipped_example_loads(path: Path, isolated: Path) -> None:
    from mrt.rules import compile_rules

    config = load_config(path)
    assert config.sources, "an example that watches nothing teaches nothing"
    compile_rules(config)  # as `mrt check` and the worker do: the loader leaves rules to mrt.rules


@pytest.mark.parametrize(
    "module",
    [
        "mrt.config.load",
        "mrt.config.secrets",
        "mrt.config.errors",
        "mrt.commands._probe",
        "mrt.config.schema",
    ],
)
def test_each_config_module_imports_first_without_a_cycle(module: str) -> None:
    code = f"import {module}\nfrom mrt.config import load_config, EnvRequirement, format_errors\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_mrt_config_reexports_what_it_lists() -> None:
    import mrt.config

    for name in mrt.config.__all__:
        assert getattr(mrt.config, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mrt.config.nope  # noqa: B018


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[sources.github]\nrepos = ["a/b"]\n', None),
        ('[[rules]]\nname = "r"\n[sources.modelscope]\norgs = ["Qwen"]\n', None),
        ('  {"sources": {"modelscope": {"orgs": ["Qwen"]}}}', None),
        ('["a/b"]', "found ['a/b'] at the top level, expected a table of keys"),
        ("[sources.github\n", "invalid TOML at line 1"),
    ],
)
def test_a_file_without_extension_is_sniffed(
    tmp_path: Path, text: str, fragment: str | None
) -> None:
    path = tmp_path / "mrtrc"
    path.write_text(text)
    if fragment is None:
        assert load_config(path).sources
    else:
        with pytest.raises(InvalidConfig, match=re.escape(fragment)):
            load_config(path)
