"""Broken configs: each gives one clear line (file, dotted path, found, expected) and exit 2.

Data-driven: (case id, file name, file text, the fragments the message must contain). Every case
runs the real `mrt check` in-process; one runs as a subprocess to prove no traceback escapes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.config import InvalidConfig, config_from_dict, format_errors

GH = '[sources.github]\nrepos = ["vllm-project/vllm"]\n'

CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "wrong-type-int",
        "c.json",
        '{"poll_interval_seconds": "often"}',
        ["poll_interval_seconds: found 'often', expected a whole number"],
    ),
    (
        "typo-top-level",
        "c.json",
        '{"watch_keyword": ["qwen"]}',
        ["watch_keyword: unknown key 'watch_keyword'; did you mean 'watch_keywords'?"],
    ),
    (
        "typo-in-source",
        "c.toml",
        GH + 'tokn_env = "GITHUB_TOKEN"\n',
        ["sources.github.tokn_env: unknown key 'tokn_env'; did you mean 'token_env'?"],
    ),
    (
        "typo-nested-table",
        "c.toml",
        GH + "monitor = { issues = true, pull = true }\n",
        ["sources.github.monitor.pull: unknown key 'pull'; did you mean 'pulls'?"],
    ),
    (
        "bad-cron",
        "c.toml",
        GH + 'cron = "61 * * * *"\n',
        ["sources.github.cron: found '61 * * * *', expected a cron expression"],
    ),
    (
        "bad-digest-cron",
        "c.toml",
        '[digests.daily]\ncron = "every morning"\n',
        ["digests.daily.cron: found 'every morning', expected a cron expression"],
    ),
    (
        "bad-timezone",
        "c.toml",
        GH + 'timezone = "Mars/Olympus_Mons"\n',
        ["sources.github.timezone: found 'Mars/Olympus_Mons', expected an IANA time zone"],
    ),
    (
        "bad-base-url",
        "c.toml",
        GH + 'base_url = "github.example.com/api/v3"\n',
        ["sources.github.base_url:", "expected an http:// or https:// URL"],
    ),
    (
        "bad-channel-url",
        "c.toml",
        '[channels.team]\nurls = ["hooks.slack.com/T000/B000/XXXXSECRET"]\n',
        ["channels.team.urls[0]: found a value (not shown", "expected an Apprise URL"],
    ),
    (
        "bad-database-url",
        "c.toml",
        '[state]\nurl = "mysql://root:pw@db/mrt"\n',
        ["state.url: found 'mysql://…' (the rest not shown), expected a postgresql://"],
    ),
    (
        "invalid-json",
        "c.json",
        '{\n  "poll_interval_seconds": 300,\n  "watch_keywords": ["a" "b"]\n}\n',
        ["invalid JSON at line 3, column 26: Expecting ',' delimiter"],
    ),
    (
        "invalid-json-trailing-comma",
        "c.json",
        '{\n  "poll_interval_seconds": 300,\n}\n',
        ["invalid JSON at line 3, column 1"],
    ),
    (
        "invalid-toml",
        "c.toml",
        'poll_interval_seconds = 300\nwatch_keywords = ["a",\n[state]\n',
        ["invalid TOML at line 3, column"],
    ),
    (
        "duplicate-json-key",
        "c.json",
        '{"poll_interval_seconds": 300, "poll_interval_seconds": 600}',
        ["the key 'poll_interval_seconds' appears twice"],
    ),
    (
        "unknown-source-plugin",
        "c.toml",
        '[sources.bitbucket]\nrepos = ["a/b"]\n',
        [
            "sources.bitbucket: no source plugin named 'bitbucket'",
            # every installed source, sorted: the built-ins (a new built-in adds itself here)
            "(installed: arxiv, feed, ghsa, github, gitlab, huggingface, modeldir, modelscope, "
            "npm, oci, osv, pypi)",
        ],
    ),
    (
        "unknown-plugin-typo",
        "c.toml",
        '[sources.hf]\ntype = "hugingface"\norgs = ["Qwen"]\n',
        ["no source plugin named 'hugingface'; did you mean 'huggingface'?"],
    ),
    (
        "repo-not-owner-slash-repo",
        "c.json",
        '{"sources": {"github": {"repos": ["vllm-project/vllm", "sglang"]}}}',
        ["sources.github.repos: 'sglang' is not of the form owner/repo"],
    ),
    (
        "at-accounts-over-10",
        "c.json",
        '{"notify": {"welink": {"at_accounts": ['
        + ", ".join(f'"u{i}"' for i in range(11))
        + "]}}}",
        ["notify.welink.at_accounts: found 11 items, expected at most 10 items"],
    ),
    (
        "ambiguous-bool",
        "c.json",
        '{"sources": {"github": {"repos": ["a/b"], "monitor": {"issues": "maybe"}}}}',
        ["sources.github.monitor.issues: found 'maybe', expected true or false"],
    ),
    (
        "missing-required-key",
        "c.toml",
        '[sources.huggingface]\ntoken_env = "HF_TOKEN"\n',
        ["sources.huggingface.orgs: required key is missing"],
    ),
    (
        "list-expected",
        "c.json",
        '{"watch_keywords": "deepseek"}',
        ["watch_keywords: found 'deepseek', expected a list"],
    ),
    (
        # v0's poll_interval_seconds below 10 runs with a warning (test_config_v0); the v1
        # per-source interval stays strict
        "below-minimum",
        "c.json",
        '{"sources": {"hf": {"type": "huggingface", "orgs": ["x"], "interval_seconds": 1}}}',
        ["sources.hf.interval_seconds: found 1, expected a number >= 10"],
    ),
    (
        "above-maximum",
        "c.json",
        '{"sources": {"hf": {"type": "huggingface", "orgs": ["x"], "interval_seconds": 1000000000000000000000000000000}}}',
        ["sources.hf.interval_seconds: found 1000000000000000000000000000000, expected a number <= 31536000"],
    ),
    (
        "token-in-token-env",
        "c.toml",
        GH + 'token_env = "ghp_0123456789abcdef-SECRET"\n',
        ["sources.github.token_env: found a value (not shown", "name of an environment variable"],
    ),
    (
        "unknown-digest-channel",
        "c.toml",
        '[channels.team]\nurl_env = "TEAM_URL"\n[digests.daily]\ncron = "0 9 * * *"\n'
        'channels = ["teem"]\n',
        ["digests.daily.channels[0]: no channel named 'teem'; did you mean 'team'?"],
    ),
    (
        "two-databases",
        "c.toml",
        '[state]\nsqlite_path = "a.db"\nurl = "postgresql://mrt@db/mrt"\n',
        ["state: either sqlite_path or url, not both"],
    ),
    (
        "top-level-list",
        "c.json",
        '["github"]',
        ["found ['github'] at the top level, expected a table of keys"],
    ),
    (
        "table-instead-of-list",
        "c.toml",
        '[rules.deepseek]\nkeywords = ["deepseek"]\n',
        ["rules: found a table, expected a list (in TOML: repeated [[rules]] tables)"],
    ),
    (
        "wrong-literal",
        "c.json",
        '{"version": 2}',
        ["version: found 2, expected 1"],
    ),
    (
        "not-utf8",
        "c.toml",
        "watch_keywords = ['\udcff']",
        ["not UTF-8 text (byte 0xff"],
    ),
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN", "WELINK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("case", "name", "text", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_broken_config_gives_one_clear_line_and_exit_2(
    case: str,
    name: str,
    text: str,
    fragments: list[str],
    tmp_path: Path,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _write(tmp_path, name, text)
    code = main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert out == ""  # the report never starts on a config that does not load
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mrt: {path}: "), err
    for fragment in fragments:
        assert fragment in lines[0], err
    assert "Traceback" not in err
    assert "SECRET" not in err  # a value that may be a secret is never echoed


def test_missing_file_says_so(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--config", str(tmp_path / "nope.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err.strip() == f"mrt: {tmp_path / 'nope.toml'}: cannot read the config file: no such file"
    )


def test_directory_instead_of_file(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--config", str(tmp_path)])
    assert code == 2
    assert "cannot read the config file: it is a directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "c.toml", "poll_interval_seconds = 300\n")
    path.chmod(0)
    code = main(["check", "--config", str(path)])
    assert code == 2
    assert "cannot read the config file: permission denied" in capsys.readouterr().err


def test_mrt_config_pointing_nowhere_names_the_variable(
    tmp_path: Path,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MRT_CONFIG", str(tmp_path / "gone.json"))
    assert main(["check"]) == 2
    assert "no such file (named by $MRT_CONFIG)" in capsys.readouterr().err


def test_every_problem_is_reported_one_per_line(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        'poll_interval_seconds = "often"\nwatch_keyword = ["x"]\n'
        '[sources.github]\nrepos = ["a/b"]\ncron = "nope"\n[sources.bitbucket]\n'
    )
    path = _write(tmp_path, "c.toml", text)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    assert lines[0].startswith("mrt: ")
    assert all(str(path) in line for line in lines)
    for fragment in (
        "poll_interval_seconds",
        "did you mean 'watch_keywords'",
        "sources.github.cron",
        "'bitbucket'",
    ):
        assert fragment in err


def test_format_errors_gives_the_lines_and_keeps_the_problems() -> None:
    with pytest.raises(InvalidConfig) as caught:
        config_from_dict({"poll_interval_seconds": "x", "delivery": {"senders": 0}}, file="f.json")
    assert [p.path for p in caught.value.problems] == ["poll_interval_seconds", "delivery.senders"]
    assert format_errors(caught.value) == (
        "f.json: poll_interval_seconds: found 'x', expected a whole number\n"
        "f.json: delivery.senders: found 0, expected a number >= 1"
    )


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.json", '{\n  "sources": {"github": {"repos": ["a/b"],}}\n}')
    env = {k: v for k, v in os.environ.items() if k != "MRT_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "mrt", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{path}: invalid JSON at line 2, column 43: Expecting property name" in result.stderr
