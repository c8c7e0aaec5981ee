"""Configs that used to crash or pass while meaning harm (issue 19 items 6 and 8).

Every case goes through the real loader the way a user meets it: `mrt check --config FILE`
in-process (exit 2, one line per problem naming the file and the field) and, for some, the
worker's own entry point, which must refuse the same file with exit 2 before storing anything.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import worker.main
from mrt.cli import main as mrt_main
from mrt.config.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH

GH = '[sources.github]\nrepos = ["vllm-project/vllm"]\n'


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN", "WELINK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = mrt_main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "RecursionError" not in out + err
    return code, err


def run_worker(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = worker.main.main(["--config", str(path), "--once"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err
    return code, err


# --- item 6: nesting depth and size -------------------------------------------------------------

DEEP = 2000
DEEP_FILES = {
    "deep.json": '{"watch_keywords": ' + "[" * DEEP + "]" * DEEP + "}",
    "deep.toml": "watch_keywords = " + "[" * DEEP + "]" * DEEP + "\n",
    "deep-inline.toml": "ai = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
    "dotted.toml": "[" + ".".join(["rules"] * DEEP) + "]\n",
}


@pytest.mark.parametrize("name", sorted(DEEP_FILES))
def test_a_config_nested_2000_levels_is_a_clear_error(
    name: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / name
    path.write_text(DEEP_FILES[name], encoding="utf-8")
    for run in (check, run_worker):
        code, err = run(path, capsys)
        assert code == 2, err
        (line,) = err.strip().splitlines()
        assert str(path) in line
        assert f"more than {MAX_CONFIG_DEPTH} levels deep at line 1" in line or (
            "dots (dotted key parts) at line 1" in line
        ), line


def test_dotted_keys_across_lines_are_counted_after_parsing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 40 levels in the header and 40 in the key: no line is suspicious, the data is too deep
    path = home / "c.toml"
    path.write_text(
        "[" + ".".join(["ai"] * 40) + "]\n" + ".".join(["x"] * 40) + " = 1\n", encoding="utf-8"
    )
    code, err = check(path, capsys)
    assert code == 2
    assert f"{path}: ai.ai.ai." in err and f"nested more than {MAX_CONFIG_DEPTH} levels deep" in err


def test_a_deep_but_reasonable_rule_still_loads(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    when: dict[str, object] = {"keywords": ["qwen"]}
    for _ in range(12):
        when = {"any": [when, {"not": {"labels": ["spam"]}}]}
    data = {
        "channels": {"ops": {"type": "console"}},
        "rules": [{"name": "r", "when": when, "notify": True}],
    }
    path = home / "c.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, err = check(path, capsys)
    assert code == 0, err


def test_a_config_larger_than_1_mib_is_refused_without_reading_it_all(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "big.json"
    path.write_text('{"watch_keywords": [' + '"qwen", ' * 300_000 + '"x"]}', encoding="utf-8")
    assert path.stat().st_size > MAX_CONFIG_BYTES
    for run in (check, run_worker):
        code, err = run(path, capsys)
        assert code == 2
        (line,) = err.strip().splitlines()
        assert line.endswith(
            f"{path}: the file is 2.3 MiB; a config may be at most 1,048,576 bytes (1 MiB): "
            "is this the right file?"
        ), line


def test_an_endless_file_is_refused(home: Path) -> None:
    # a subprocess with its memory capped: reading /dev/zero whole would take the machine's
    done = subprocess.run(
        [sys.executable, "-m", "mrt", "check", "--config", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=home,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)),
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "mrt: /dev/zero: the file is an endless stream; a config may be at most 1,048,576 bytes "
        "(1 MiB): is this the right file?"
    )


# --- item 8: values that passed but meant harm --------------------------------------------------

HARMFUL = [
    (
        "cron-seconds",
        GH + 'cron = "* * * * * *"\n',
        "sources.github.cron: found '* * * * * *', expected a cron expression of 5 fields "
        "(minute hour day month weekday), e.g. '0 9 * * 1-5', or @hourly/@daily/@weekly; "
        "this one has 6 fields (a 6th field would be seconds: not supported)",
    ),
    (
        "digest-cron-seconds",
        '[digests.daily]\ncron = "0 0 9 * * *"\n',
        "digests.daily.cron: found '0 0 9 * * *', expected a cron expression of 5 fields",
    ),
    (
        "cron-year",
        GH + 'cron = "0 9 * * * 2027 1"\n',
        "this one has 7 fields",
    ),
    (
        "jitter-true",
        GH + "jitter_seconds = true\n",
        "sources.github.jitter_seconds: found True, expected a whole number; "
        "true/false is not a number",
    ),
    (
        "senders-false",
        "[delivery]\nsenders = false\n",
        "delivery.senders: found False, expected a whole number; true/false is not a number",
    ),
    (
        "float-true",
        "[delivery]\nbackoff_base_seconds = true\n",
        "delivery.backoff_base_seconds: found True, expected a number; true/false is not a number",
    ),
    (
        "plugin-field-true",
        GH + "timeout_seconds = true\n",
        "sources.github.timeout_seconds: found True, expected a number",
    ),
    (
        "version-true",
        "version = true\n",
        "version: found True, expected 1; true/false is not a number",
    ),
]


@pytest.mark.parametrize(("case", "text", "fragment"), HARMFUL, ids=[c[0] for c in HARMFUL])
def test_values_that_mean_harm_are_config_errors(
    case: str, text: str, fragment: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "c.toml"
    path.write_text(text, encoding="utf-8")
    code, err = check(path, capsys)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"mrt: {path}: ") and fragment in line, line


def test_five_field_cron_and_real_numbers_still_load(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "c.toml"
    path.write_text(
        GH + 'cron = "*/15 9-18 * * 1-5"\njitter_seconds = 30\ntimeout_seconds = 5\n'
        '[digests.daily]\ncron = "@daily"\n[delivery]\nsenders = 2\nbackoff_base_seconds = 2\n',
        encoding="utf-8",
    )
    code, err = check(path, capsys)
    assert code == 0, err


def test_a_sqlite_path_that_is_a_directory_names_the_field(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "state").mkdir()
    path = home / "c.toml"
    path.write_text(f'[state]\nsqlite_path = "{home / "state"}"\n', encoding="utf-8")
    expected = (
        "expected the path of a database file, not a directory "
        f"(e.g. '{home / 'state' / 'mrt.sqlite3'}')"
    )
    for run, prog in ((check, "mrt"), (run_worker, "mrt-worker")):
        code, err = run(path, capsys)
        (line,) = err.strip().splitlines()
        assert code == 2 and line.startswith(f"{prog}: {path}: state.sqlite_path: found '/"), line
        assert line.endswith(expected), line
