"""`mrt service install`: the systemd user unit for this install, and how to start it."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from importlib.resources import files
from pathlib import Path

from mrt.commands._output import add_json_option, emit, report_error, wants_json

UNIT_NAME = "mrt-worker.service"


def unit_text(exec_start: str) -> str:
    template = files("mrt").joinpath("data", UNIT_NAME).read_text(encoding="utf-8")
    lines = [
        f"ExecStart={exec_start}" if line.startswith("ExecStart=") else line
        for line in template.splitlines()
    ]
    return "\n".join(lines) + "\n"


def worker_command(config: str | None) -> str:
    """The absolute worker path of this install (pipx, venv or system), with its config."""
    exe = shutil.which("mrt-worker") or str(Path(sys.executable).with_name("mrt-worker"))
    parts = [exe, "--daemon"]
    if config:
        parts += ["--config", str(Path(config).expanduser().resolve())]
    return shlex.join(parts)


def user_unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def install(args: argparse.Namespace) -> int:
    path = user_unit_dir() / UNIT_NAME
    if path.exists() and not args.force:
        return report_error(args, f"mrt: {path} exists; use --force to overwrite it", code=1,
                            title="File exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(worker_command(args.config)), encoding="utf-8")
    if wants_json(args):
        emit({"path": path, "unit": UNIT_NAME})
        return 0
    print(f"wrote {path}")
    print("start it now and at every login:")
    print("  systemctl --user daemon-reload")
    print(f"  systemctl --user enable --now {UNIT_NAME}")
    print("to keep it running while you are logged out:")
    print(f"  loginctl enable-linger {os.environ.get('USER', '$USER')}")
    print("secrets (GITHUB_TOKEN, WELINK_WEBHOOK_URL, ...) go in ~/.config/mrt/env, mode 0600")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    service = sub.add_parser("service", help="run the worker as a systemd user service")
    actions = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    p = actions.add_parser("install", parents=[common], help="write the systemd user unit")
    p.add_argument("--force", action="store_true", help="overwrite an existing unit")
    add_json_option(p)
    p.set_defaults(func=install)
