"""v0 values that v0 accepted run, with warnings (issue 18); the corpus in test_v0_corpus runs
whole files. Here: the pieces a corpus cycle cannot show on its own (the worker's log on start
and reload, the budget floor on the real hosts, the wording of an empty value's error)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_source_support import FakeClock, make_pool

from mrt.cli import main as mrt_main
from mrt.config import Config, config_from_dict, config_with_warnings
from mrt.http import HostBudget, HttpPool
from mrt.pipeline import build_specs
from mrt.plugins import host_budgets, source_plugins
from mrt.schedule import interval_floors, next_poll_time
from mrt.sources import github as github_source
from mrt.sources import huggingface
from mrt.sources import modelscope as modelscope_source
from worker.assembly import build_runtime, reload

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
V0_SOURCES = {
    "github": {"repos": ["vllm-project/vllm", "sgl-project/sglang"]},
    "huggingface": {"orgs": ["deepseek-ai"]},
    "modelscope": {"orgs": ["deepseek-ai", "Qwen"]},
}


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_empty_env_name_in_a_v1_key_is_shown_as_empty_not_as_a_hidden_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a v1 section keeps its strict check, but an empty string holds no secret to hide
    path = _write(tmp_path, {"sources": {"hf": {"type": "huggingface", "orgs": ["x"],
                                                "token_env": ""}},
                             "ai": {"enabled": True, "api_key_env": ""}})
    assert mrt_main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sources.hf.token_env: found '', expected the name of an environment variable" in err
    assert "ai.api_key_env: found ''" in err
    assert "not shown" not in err


def test_the_loader_returns_each_warning_with_its_path_what_it_found_and_what_mrt_does() -> None:
    loaded = config_with_warnings(
        {"poll_interval_seconds": 10**30,
         "notify": {"email": {"smtp_host": "relay.internal", "user_env": "", "password_env": "",
                              "to_list": ["ops@example.com"]}}},
        file="v0.json",
    )
    assert loaded.config.poll_interval_seconds == 365 * 24 * 3600
    email = loaded.config.channels["email"].smtp
    assert email is not None
    assert (email.user_env, email.password_env) == (
        None, None)
    (interval,) = loaded.warnings
    assert interval.path == "poll_interval_seconds"
    assert interval.found == "1000000000000000000000000000000"
    assert interval.line().startswith("v0.json: poll_interval_seconds: found 1000")
    assert "maximum 31536000" in interval.instead


def test_v1_keys_stay_strict() -> None:
    from mrt.config import InvalidConfig

    with pytest.raises(InvalidConfig, match=r"sources.hf.token_env: found ''"):
        config_from_dict({"sources": {"hf": {"type": "huggingface", "orgs": ["x"],
                                             "token_env": ""}}})
    with pytest.raises(InvalidConfig, match="expected a number >= 10"):
        config_from_dict({"sources": {"github": {"repos": ["a/b"], "interval_seconds": 5}}})


def test_the_worker_logs_each_warning_on_start_and_on_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data: dict[str, object] = {"poll_interval_seconds": 5, "sources": {},
                               "state": {"sqlite_path": str(tmp_path / "state.sqlite3")}}
    path = _write(tmp_path, data)
    caplog.set_level(logging.WARNING, logger="mrt.worker")

    async def start_and_reload() -> None:
        async with make_pool(FakeClock()) as pool:
            rt = await build_runtime(str(path), env={}, pool=pool)
            assert [r.getMessage() for r in caplog.records] == [
                f"config: {path}: poll_interval_seconds: found 5; less than 10 s: MRT polls "
                "every 5 s as v0 did, but never more often than each host's request budget "
                "allows"
            ]
            caplog.clear()
            _write(tmp_path, {**data, "poll_interval_seconds": 0})
            reload(rt)
            assert rt.config.poll_interval_seconds == 0
            rt.db.close()

    asyncio.run(start_and_reload())
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "poll_interval_seconds: found 0" in record.getMessage()


def test_an_interval_below_the_budget_floor_polls_at_the_floor_of_each_real_host() -> None:
    config = config_from_dict({"poll_interval_seconds": 0, "sources": V0_SOURCES})
    specs = build_specs(config)
    pool = HttpPool(budgets=host_budgets())  # as the worker builds it
    floors = interval_floors(specs, source_plugins(), {},
                             lambda h: pool.budgets.get(h, pool.default_budget))
    # two repos share api.github.com (80 a minute), two orgs modelscope.cn (60 a minute)
    # each source declares the budgets of the hosts it knows
    github, hub, modelscope = (module.BUDGETS[h] for module, h in (
        (github_source, "api.github.com"), (huggingface, "huggingface.co"),
        (modelscope_source, "modelscope.cn")))
    assert floors == {
        "github:vllm-project/vllm": 2 * github.window_seconds / github.requests,
        "github:sgl-project/sglang": 2 * github.window_seconds / github.requests,
        "huggingface:deepseek-ai": hub.window_seconds / hub.requests,
        "modelscope:deepseek-ai": 2 * modelscope.window_seconds / modelscope.requests,
        "modelscope:Qwen": 2 * modelscope.window_seconds / modelscope.requests,
    }
    rng = random.Random(1)
    vllm = specs[0]
    at = next_poll_time(vllm.config, config, NOW, rng, floor_seconds=floors[vllm.key])
    assert at == NOW + timedelta(seconds=1.5)
    five = config_from_dict({"poll_interval_seconds": 5, "sources": V0_SOURCES})
    assert next_poll_time(vllm.config, five, NOW, rng, floor_seconds=1.5) == NOW + timedelta(
        seconds=5)


def test_hf_endpoint_and_a_base_url_move_a_source_to_its_own_host_budget() -> None:
    config = config_from_dict({"sources": {
        "github": {"repos": ["a/b"], "base_url": "https://ghe.example.com/api/v3"},
        "huggingface": {"orgs": ["x"]}}})
    specs = build_specs(config)
    budgets = {"ghe.example.com": HostBudget(requests=10, window_seconds=60),
               "hf-mirror.example.com": HostBudget(requests=30, window_seconds=60)}
    floors = interval_floors(specs, source_plugins(),
                             {"HF_ENDPOINT": "https://hf-mirror.example.com"},
                             lambda h: budgets[h])
    assert floors == {"github:a/b": 6.0, "huggingface:x": 2.0}


@pytest.mark.parametrize(
    ("data", "path", "effective"),
    [
        ({"poll_interval_seconds": "5"}, "poll_interval_seconds",
         lambda c: c.poll_interval_seconds == 5),
        ({"poll_interval_seconds": -3}, "poll_interval_seconds",
         lambda c: c.poll_interval_seconds == 0),
        ({"notify": {"welink": {"is_at": "yes"}}}, "notify.welink.is_at",
         lambda c: c.channels["welink"].welink_robot.is_at is False),
        ({"notify": {"email": {"smtp_host": "h", "to_list": None}}}, "notify.email.to_list",
         lambda c: "email" not in c.channels),
        ({"sources": {"github": {"repos": None}}}, "sources.github.repos",
         lambda c: c.sources == {}),
    ],
    ids=["string-interval", "negative-interval", "is-at-yes-no-accounts", "null-to-list",
         "null-repos"],
)
def test_a_v0_value_v0_ran_loads_with_one_warning(
    data: dict[str, object], path: str, effective: Callable[[Config], bool]
) -> None:
    loaded = config_with_warnings(data)
    assert [w.path for w in loaded.warnings] == [path]
    assert effective(loaded.config)


def test_a_v0_file_without_a_database_keeps_v0s_default_file_when_it_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_pipeline_v0_upgrade import build_v0_file

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("WELINK_WEBHOOK_URL", "https://open.welink.huaweicloud.com/api/werobot/"
                       "v1/webhook/send?token=t0k3n&channel=standard")
    monkeypatch.chdir(tmp_path)
    corpus = Path(__file__).parent / "fixtures" / "v0"
    v0_file = corpus / "state_omitted.json"

    # no ./mrt_state.sqlite3 here: MRT's own default, nothing created in the current directory
    assert mrt_main(["check", "--config", str(v0_file)]) == 0
    out = capsys.readouterr().out
    assert f"database: {tmp_path / 'data' / 'mrt' / 'mrt.sqlite3'}" in out
    assert "state.sqlite_path" not in out and not (tmp_path / "mrt_state.sqlite3").exists()

    build_v0_file(tmp_path / "mrt_state.sqlite3", [])
    for name in ("state_omitted.json", "sqlite_path_empty.json"):
        assert mrt_main(["check", "--config", str(corpus / name)]) == 0
        out = capsys.readouterr().out
        assert "warn  state.sqlite_path: found nothing; ./mrt_state.sqlite3 (v0's default" in out
        assert f"database: {tmp_path / 'mrt_state.sqlite3'} (writable; a v0 state database" in out

    # a v1 file (version = 1) means MRT's default, whatever lies in the current directory
    (tmp_path / "v1").mkdir()
    v1_file = _write(tmp_path / "v1", {"version": 1})
    assert mrt_main(["check", "--config", str(v1_file)]) == 0
    assert str(tmp_path / "data" / "mrt" / "mrt.sqlite3") in capsys.readouterr().out


def test_the_console_opens_the_relay_file_it_used_to_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argparse import Namespace

    from tui.main import database_target

    monkeypatch.chdir(tmp_path)
    relay = Path(__file__).parent / "fixtures" / "v0" / "email_internal_relay.json"
    target = database_target(Namespace(config=str(relay), db=None))
    assert target.database == str(tmp_path / "mrt_state.sqlite3")
    assert target.config is not None and target.config.channels["email"].smtp is not None
    assert target.config.channels["email"].smtp.user_env is None
