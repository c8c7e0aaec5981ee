"""Issue 2's "done when" for a fresh machine: the README's two commands, and `mrt check` on the
v0 example, run as a user runs them.

`pip install .` into a fresh virtual environment takes too long for the suite (.ci/run does it),
so this checks that the README's first line is literally the command, then runs its last part,
`mrt-worker --once`, with no config and an empty home: the built-in default. There is no network
here (the offline guard makes sure of it anywhere): the four default sources fail cleanly, the
exit code says so (3), nothing prints a traceback, and the database is in the user data dir.
"""

from __future__ import annotations

from pathlib import Path

from test_e2e_support import ROOT, V0_EXAMPLE, Product, base_env, cycle_report

INSTALL_AND_RUN = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mrt-worker --once"
RUN_ALL_TESTS = "bash .ci/run"
DEFAULT_KEYS = ["github:vllm-project/vllm", "github:sgl-project/sglang",
                "huggingface:deepseek-ai", "modelscope:deepseek-ai"]


def readme_commands() -> list[str]:
    """The lines of the README's fenced bash blocks, in order."""
    lines, inside = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() in ("```bash", "```sh") if not inside else False
            continue
        if inside and line.strip():
            lines.append(line.strip())
    return lines


def test_the_readme_starts_with_the_two_set_up_commands() -> None:
    commands = readme_commands()
    assert commands[:2] == [INSTALL_AND_RUN, RUN_ALL_TESTS]
    assert (ROOT / ".ci" / "run").is_file()


def test_the_worker_runs_the_built_in_default_on_a_fresh_machine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    product = Product(None, base_env(home))
    data_dir = home / "data" / "mrt"
    assert not data_dir.exists()

    done = product.worker_once(expect=3)  # every source failed: no network

    assert {key: outcome for key, (outcome, _, _) in cycle_report(done).items()} == dict.fromkeys(
        DEFAULT_KEYS, "failed")
    assert "connection failed" in done.stdout
    assert (data_dir / "mrt.sqlite3").is_file()
    assert not (home / "config" / "mrt").exists()  # running writes no config for the user

    listed = product.sources()
    assert list(listed) == DEFAULT_KEYS
    for row in listed.values():
        assert row["configured"] and row["polled"] and row["health"] == "failing"
        assert row["cursor"] is None and row["consecutive_failures"] == 1
        assert row["last_error"]["class"] == "SourceError"
        assert "connection failed" in row["last_error"]["message"]
    table = product.mrt("sources").stdout
    assert all(key in table for key in DEFAULT_KEYS) and table.count("failing") == 4


def test_mrt_check_on_the_v0_example_passes_with_its_env_and_names_what_is_missing(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path / "home")
    webhook = ("https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send"
               "?token=e2e-SECRET-token&channel=standard")
    ready = Product(V0_EXAMPLE, {**env, "WELINK_WEBHOOK_URL": webhook})
    done = ready.mrt("check", "--config", str(V0_EXAMPLE))
    assert "check: ready" in done.stdout and "e2e-SECRET-token" not in done.stdout + done.stderr

    missing = Product(V0_EXAMPLE, env).mrt("check", "--config", str(V0_EXAMPLE), expect=2)
    output = missing.stdout + missing.stderr
    assert "WELINK_WEBHOOK_URL" in output and "not ready" in output
    assert not (tmp_path / "home" / "mrt_state.sqlite3").exists()  # check creates nothing
