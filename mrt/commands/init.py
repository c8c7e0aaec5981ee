"""`mrt init`: write a commented starter config to the user config directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrt.commands._output import add_json_option, emit, report_error, wants_json
from mrt.config import config_from_dict, parse_config_text, user_config_dir

# The same text as share/examples/starter-config.toml (a test keeps them equal); it lives here
# because share/ is not installed with the package.
STARTER_TOML = """\
# MRT config (written by `mrt init`). Check it with `mrt check`; see docs/CONFIG.md.
# Secrets never go in this file: name the environment variable that holds each one.
version = 1

# Default interval between two polls of each source (seconds).
poll_interval_seconds = 300

# v0's rule: alert when an event's title or summary contains one of these (any case).
watch_keywords = ["deepseek", "qwen"]

# [state]
# sqlite_path = "./mrt_state.sqlite3"   # default: the user data directory
# url = "postgresql://mrt@db.example.com/mrt"   # several workers share one PostgreSQL

[sources.github]
repos = ["vllm-project/vllm", "sgl-project/sglang"]
monitor = { issues = true, pulls = true }
token_env = "GITHUB_TOKEN"   # optional: 60 requests an hour without it, 5,000 with it
# base_url = "https://github.example.com/api/v3"   # GitHub Enterprise
# cron = "*/10 * * * *"   # instead of poll_interval_seconds
# timezone = "Asia/Shanghai"

[sources.huggingface]
orgs = ["deepseek-ai"]
token_env = "HF_TOKEN"   # optional

[sources.modelscope]
orgs = ["deepseek-ai"]

# More upstreams: uncomment what you watch (docs/SOURCES.md has every option).
# Releases and tags of the GitHub repos above (tokenless: read from releases.atom/tags.atom):
#   monitor = { issues = true, pulls = true, releases = true, tags = true }
# [sources.pypi]
# projects = ["transformers", "vllm"]
# [sources.npm]
# packages = ["openai"]
# [sources.feed]
# feeds = [{ url = "https://github.com/vllm-project/vllm/releases.atom", name = "vllm-releases" }]
# [sources.arxiv]
# queries = ['cat:cs.CL AND abs:"mixture of experts"']   # arXiv allows one request every 3 s
# [sources.osv]
# packages = [{ ecosystem = "PyPI", name = "vllm" }]
# [sources.ghsa]
# packages = [{ ecosystem = "pip", name = "vllm" }]
# token_env = "GITHUB_TOKEN"
# [sources.gitlab]
# projects = ["gitlab-org/gitlab-runner"]
# token_env = "GITLAB_TOKEN"
# [sources.modeldir]
# paths = ["/data/models"]   # a local model directory, scanned each poll
# [sources.oci]
# images = ["vllm/vllm-openai", "ghcr.io/sgl-project/sglang"]   # new tags; latest re-pushed

# Alerts are printed to the terminal until you configure a real channel.
[channels.console]
type = "console"

# A chat group or a webhook through Apprise; ${NAME} is read from the environment.
# [channels.team]
# urls = ["slack://${SLACK_TOKENS}"]
# url_env = ["TEAM_WEBHOOK_URL"]   # or whole URLs kept in variables

# The v0 WeLink robot: the variable holds the webhook URL (with token and channel).
# [notify.welink]
# webhook_env = "WELINK_WEBHOOK_URL"
# at_accounts = []   # up to 10 user ids to @-mention

# [delivery]
# max_attempts = 12
# fold_after_seconds = 60      # a burst past a target's rate budget goes out folded
"""

NEXT_STEPS = """next steps:
  1. edit it: the sources to watch, the keywords, a channel for your team
  2. export the variables it names (GITHUB_TOKEN, ...): secrets stay out of the file
  3. mrt check
  4. mrt-worker --once   (one cycle; without --once it keeps running)"""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "init",
        parents=[common],
        help="write a commented starter config",
        description="Write a commented starter config to the user config directory "
        "(or to --config FILE).",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_json_option(parser)
    parser.set_defaults(func=run_init)


def starter_config_path() -> Path:
    return user_config_dir() / "config.toml"


def run_init(args: argparse.Namespace) -> int:
    path = Path(args.config).expanduser() if args.config else starter_config_path()
    # the starter must load; if it ever stops, fail here rather than hand the user a broken file
    config_from_dict(parse_config_text(STARTER_TOML, file="(starter)"))
    if path.exists() and not args.force:
        if wants_json(args):
            return report_error(args, f"mrt: {path} already exists; use --force to replace it",
                                code=1, title="File exists")
        print(f"mrt: {path} already exists; use --force to replace it")
        return 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STARTER_TOML, encoding="utf-8")
    except OSError as exc:
        if wants_json(args):
            return report_error(args, f"mrt: cannot write {path}: {exc.strerror}", code=1,
                                title="Cannot write")
        print(f"mrt: cannot write {path}: {exc.strerror}")
        return 1
    if wants_json(args):
        emit({"path": path})
        return 0
    print(f"wrote {path}")
    print(NEXT_STEPS)
    return 0
