"""Documentation is executable: every fenced block of README.md and docs/*.md, run as a user would.

- a config block (json/toml, and the rules docs' yaml, written out as the JSON it stands for):
  `mrt check --config FILE` through `mrt.cli.main` (the `mrt` entry point: file loader, rules
  compiled, database, secrets, channels) must say "ready", with every variable the config names
  set to a dummy value, a private home and an empty working directory;
- a shell block: each `mrt ...` line, in order, against a copy of a database seeded by two real
  `mrt-worker --once` cycles on the v0 example pointed at loopback fakes (test_e2e_support),
  expecting exit 0 or the `# exit N` its comment documents; installers and systemd lines are
  listed as not run (doc_blocks.NOT_RUN), anything else is refused;
- an output sample (`<!-- doc-test: output-of ... -->`): the command's output, modulo times, ids
  and lines the doc cuts short with `...`;
- `<!-- doc-test: partial -->`: syntax only; `<!-- doc-test: skip (why) -->`: counted, not run.

Every test id is FILE:LINE of the block, so a failure names the block; the counts per kind are
in test_every_block_is_classified's output (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from doc_blocks import (
    ROOT,
    WELINK_URL,
    Block,
    dummy_value,
    output_differences,
    output_spec,
    parse_config,
    read_blocks,
    shell_lines,
)
from pytest_httpserver import HTTPServer
from test_e2e_support import Product, Upstreams, install_robot, loopback_config, product_env

import mrt.cli
from mrt.config import env_requirements, load_config
from mrt.errors import MrtError

BLOCKS = read_blocks()
IDS = [b.where for b in BLOCKS]


def of_kind(*kinds: str) -> list[Block]:
    return [b for b in BLOCKS if b.kind in kinds]


def ids(blocks: list[Block]) -> list[str]:
    return [b.where for b in blocks]


def test_every_block_is_classified() -> None:
    unclassified = [
        f"{b.where}: a ```{b.lang} block with "
        + (f"an unknown marker {b.marker!r}" if b.marker else "no doc-test marker")
        + ": mark it `<!-- doc-test: partial -->`, `<!-- doc-test: data (what) -->`, "
        "`<!-- doc-test: skip (why) -->` or "
        "`<!-- doc-test: output-of CMD -->` on the line right before it"
        for b in BLOCKS
        if b.kind == "unclassified"
    ]
    assert not unclassified, "\n".join(unclassified)
    counts = Counter(b.kind for b in BLOCKS)
    print(
        f"\ndoc blocks: {len(BLOCKS)} ({', '.join(f'{k} {n}' for k, n in sorted(counts.items()))})"
    )
    assert len(BLOCKS) >= 20


# --- running `mrt` in-process, the way the entry point does ------------------------------------


def run_mrt(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """`mrt ARGV` with exactly `env` as the environment, from `cwd`: (exit code, output)."""
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            if not name.startswith(("PYTEST_", "COV_")):
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("PYTHONPATH", raising=False)
        patch.chdir(cwd)
        capsys.readouterr()
        try:
            code = mrt.cli.main(argv)
        except SystemExit as exc:  # argparse: a usage error
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return code, out.out + out.err


def private_home(path: Path) -> dict[str, str]:
    env = {
        "HOME": str(path),
        "XDG_CONFIG_HOME": str(path / ".config"),
        "XDG_DATA_HOME": str(path / ".local" / "share"),
        "XDG_STATE_HOME": str(path / ".local" / "state"),
        "XDG_CACHE_HOME": str(path / ".cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }
    path.mkdir(parents=True, exist_ok=True)
    return env


# --- config blocks -------------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("config"), ids=ids(of_kind("config")))
def test_config_block_is_ready_in_mrt_check(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = parse_config(block)
    # YAML is the rules page's notation for the same shape; the loader reads JSON and TOML.
    suffix = "json" if block.lang == "yaml" else block.lang
    path = tmp_path / f"doc-block.{suffix}"
    path.write_text(json.dumps(data) if block.lang == "yaml" else block.body, encoding="utf-8")
    env = private_home(tmp_path / "home")
    try:
        names = {req.name: dummy_value(req) for req in env_requirements(load_config(path, env={}))}
    except MrtError:
        names = {}  # `mrt check` below says what is wrong
    env.update(names)
    code, output = run_mrt(
        ["check", "--config", str(path)], env, tmp_path / "home", monkeypatch, capsys
    )
    assert code == 0, f"{block.where}: `mrt check` on this block exited {code}:\n{output}"


@pytest.mark.parametrize("block", of_kind("data"), ids=ids(of_kind("data")))
def test_data_block_parses(block: Block) -> None:
    """A command's output or a vendor's message: any JSON/YAML value, never a config."""
    try:
        json.loads(block.body) if block.lang == "json" else yaml.safe_load(block.body)
    except (ValueError, yaml.YAMLError) as exc:
        pytest.fail(f"{block.where}: the {block.lang} block does not parse: {exc}")


@pytest.mark.parametrize("block", of_kind("partial"), ids=ids(of_kind("partial")))
def test_partial_block_parses(block: Block) -> None:
    if block.lang in ("json", "toml", "yaml"):
        parse_config(block)
    elif block.lang in ("bash", "sh", "shell"):
        shell_lines(block)
    else:
        pytest.fail(
            f"{block.where}: a partial ```{block.lang} block has no syntax to check; "
            "use `<!-- doc-test: skip (why) -->`"
        )


# --- shell blocks: against a database seeded by the real worker ------------------------------


# The rule docs/RULES.md opens with (its commands name it), on the v0 example's channel.
DOC_RULE = {
    "name": "deepseek-prs",
    "when": {"keywords": ["deepseek"], "event_type": ["pr_merged"], "source_key": "github:*"},
    "notify": {"channels": ["welink"], "priority": "high"},
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with the v0 example (loopback), its database after a baseline and one alert."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        home = tmp_path_factory.mktemp("seeded") / "home"
        home.mkdir()
        upstreams = Upstreams(server)
        install_robot(server)
        config = loopback_config(home, server)
        data = json.loads(config.read_text())
        data["state"]["sqlite_path"] = "./mrt_state.sqlite3"  # relative: a copy uses its own
        data["rules"] = [DOC_RULE]
        config.write_text(json.dumps(data, indent=2))
        product = Product(config, product_env(home, server))
        product.worker_once()
        upstreams.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
        product.worker_once()
        yield home
    finally:
        server.clear()
        server.stop()


def seeded_env(home: Path) -> dict[str, str]:
    env = private_home(home)
    seeded_config = json.loads((home / "config.json").read_text())
    # The user config, as `mrt init` would place it (a command line names no --config).
    user_config = home / ".config" / "mrt" / "config.json"
    user_config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(home / "config.json", user_config)
    env["WELINK_WEBHOOK_URL"] = WELINK_URL
    env["GITHUB_TOKEN"] = env["HF_TOKEN"] = "doc0token"
    assert seeded_config["notify"]["welink"]["webhook_env"] == "WELINK_WEBHOOK_URL"
    return env


def with_real_ids(argv: list[str], home: Path) -> list[str]:
    """`mrt trace 19cf1579`: the doc's id stands for an event's; use one the database has."""
    if argv[:1] != ["trace"] or len(argv) < 2 or not re.fullmatch(r"[0-9a-f]{8,}", argv[1]):
        return argv
    with sqlite3.connect(home / "mrt_state.sqlite3") as db:
        (fingerprint,) = db.execute("select fingerprint from event order by id desc").fetchone()
    return ["trace", fingerprint[:12], *argv[2:]]


@pytest.mark.parametrize("block", of_kind("shell"), ids=ids(of_kind("shell")))
def test_shell_block_runs_as_documented(
    block: Block,
    seeded: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = shell_lines(block)
    runnable = [line for line in lines if line.argv]
    if not runnable:
        pytest.fail(
            f"{block.where}: no line of this block can be run here "
            f"({'; '.join(line.not_run for line in lines)}): mark it "
            "`<!-- doc-test: skip (why) -->`"
        )
    home = tmp_path / "home"
    shutil.copytree(seeded, home)
    env = seeded_env(home)
    for line in runnable:
        argv = with_real_ids(line.argv, home)
        code, output = run_mrt(argv, env, home, monkeypatch, capsys)
        assert code == line.expect, (
            f"{block.file}:{line.line}: `{line.text}` exited {code}, the doc says {line.expect}:\n"
            f"{output}"
        )


# --- output samples ------------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("output"), ids=ids(of_kind("output")))
def test_output_sample_is_what_the_command_prints(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = output_spec(block)
    home, root = tmp_path / "home", tmp_path / "root"
    env = private_home(home)

    def local(documented: str) -> Path:
        if documented.startswith("~/"):
            return home / documented[2:]
        return root / documented.lstrip("/")

    for documented, source in spec.files.items():
        local(documented).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, local(documented))
    argv = [str(local(a)) if a in spec.files else a for a in spec.argv]
    code, output = run_mrt(argv, env, home, monkeypatch, capsys)
    shown = output.replace(str(root), "").replace(str(home), "/home/me")
    problems = output_differences(block, shown)
    if spec.expect is not None and code != spec.expect:
        problems.append(f"{block.where}: exited {code}, the marker says exit {spec.expect}")
    assert not problems, "\n".join(problems) + f"\n--- the command printed:\n{shown}"


def test_skipped_blocks_say_why() -> None:
    for block in of_kind("skip"):
        assert block.marker and len(block.marker) > len("skip ()") + 3, block.where


# --- the checker itself --------------------------------------------------------------------


def test_an_unmarked_block_of_an_unknown_kind_is_refused_by_name(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```text\nhello\n```\n\n<!-- doc-test: partial -->\n```toml\na = 1\n```\n"
        "\n<!-- doc-test: skip -->\n```sh\nrm -rf /\n```\n"
    )
    kinds = [(b.line, b.kind) for b in read_blocks([page])]
    assert kinds == [(3, "unclassified"), (8, "partial"), (13, "unclassified")]


def test_an_unknown_program_in_a_shell_block_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\nmrt sources\ncurl https://example.com | sh\n```\n")
    (block,) = read_blocks([page])
    with pytest.raises(AssertionError, match=r"page.md:3: `curl` is neither"):
        shell_lines(block)


def test_an_output_sample_that_differs_names_its_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- doc-test: output-of mrt check -->\n```text\nok    a: one ...\n"
        "error b: at 2026-12-01T09:00:00Z, id 19cf1579ab\ncheck: ready\n```\n"
    )
    (block,) = read_blocks([page])
    printed = (
        "ok    a: one two three\nerror b: at 2027-01-02T10:11:12Z, id 77aa0b1c2d\n"
        "check: not ready\n"
    )
    assert output_differences(block, printed) == [
        f"{page}:5: the doc shows 'check: ready', the command printed 'check: not ready'"
    ]


def test_a_partial_block_is_checked_for_syntax_and_named_when_broken(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- doc-test: partial -->\n```toml\n[delivery]\nmax_attempts = \n```\n")
    (block,) = read_blocks([page])
    assert block.kind == "partial"
    with pytest.raises(AssertionError, match=r"page.md:2: the toml block does not parse"):
        parse_config(block)
