"""The README cannot drift from the code: every config it shows loads (and its rules compile and
lint clean), every `mrt`/`mrt-worker` command line it shows parses, and the documents it links
exist. (The two set-up commands are checked by test_e2e_default.py.)"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mrt.cli import build_parser
from mrt.config import config_from_dict
from mrt.rules import compile_rules
from mrt.rules.lint import lint_rules
from worker.main import build_parser as worker_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(*languages: str) -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in BLOCK.findall(README) if lang in languages]


CONFIGS = blocks("json", "toml")
def _command(line: str) -> list[str]:
    """The command's own words: a shell redirection (`> FILE`) and what follows it is not."""
    words = shlex.split(line, comments=True)
    return words[: words.index(">")] if ">" in words else words


COMMANDS = [
    shlex.join(_command(line))
    for _, body in blocks("bash")
    for line in body.splitlines()
    if line.strip().startswith(("mrt ", "mrt-worker "))
]


def parse(lang: str, body: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body) if lang == "json" else tomllib.loads(body)
    return data


def test_the_readme_shows_a_v0_json_and_a_v1_toml_with_rules_and_channels() -> None:
    assert [lang for lang, _ in CONFIGS] == ["json", "toml"]
    v0, v1 = (parse(lang, body) for lang, body in CONFIGS)
    assert v0 == json.loads((ROOT / "share" / "examples" / "v0-config.json").read_text())
    assert v1["rules"] and v1["channels"] and v1["notify"]["email"]


@pytest.mark.parametrize(("lang", "body"), CONFIGS, ids=[lang for lang, _ in CONFIGS])
def test_each_config_in_the_readme_loads_and_its_rules_lint_clean(lang: str, body: str) -> None:
    config = config_from_dict(parse(lang, body), file="README.md")
    compile_rules(config)
    assert lint_rules(config) == []


def test_the_v1_rules_mean_what_the_readme_says() -> None:
    from mrt.events import TrackerEvent

    config = config_from_dict(parse(*CONFIGS[1]), file="README.md")
    rules = compile_rules(config)

    def event(**fields: Any) -> TrackerEvent:
        base: dict[str, Any] = dict(source="github", source_key="github:vllm-project/vllm",
                                    resource_type="pull_request", resource_id="vllm-project/vllm#1",
                                    event_type="pr_merged", event_id="1", title="DeepSeek MTP")
        base.update(fields)
        return TrackerEvent(**base)

    merged = rules.evaluate(event())
    assert (merged.action, set(merged.channels)) == ("notify", {"team-welink", "email"})
    assert rules.evaluate(event(author="dependabot[bot]")).action == "suppress"
    model = rules.evaluate(event(source="huggingface", source_key="huggingface:Qwen",
                                 resource_type="model", resource_id="Qwen/Qwen3-8B",
                                 event_type="model_added", title="Qwen/Qwen3-8B"))
    assert (model.action, model.channels) == ("notify", ("team-welink",))


@pytest.mark.parametrize("line", COMMANDS)
def test_each_command_line_in_the_readme_parses(line: str) -> None:
    argv = shlex.split(line)
    parser = worker_parser() if argv[0] == "mrt-worker" else build_parser()
    args = parser.parse_args(argv[1:])
    assert argv[0] == "mrt-worker" or getattr(args, "func", None) is not None


def test_the_readme_covers_every_everyday_command() -> None:
    firsts = {" ".join(shlex.split(line)[:2]) for line in COMMANDS}
    assert {"mrt init", "mrt check", "mrt sources", "mrt outbox", "mrt trace", "mrt rules",
            "mrt db", "mrt service"} <= firsts


def test_linked_documents_exist() -> None:
    links = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README)
    assert {"docs/CONFIG.md", "docs/RULES.md"} <= set(links)
    for link in links:
        assert (ROOT / link).is_file(), link


def test_the_readme_cron_source_is_spread_by_jitter_as_its_comment_says() -> None:
    """The v1 example says jitter spreads the requests: two workers must not poll on the dot."""
    import random
    from datetime import UTC, datetime

    from mrt.schedule import next_poll_time

    config = config_from_dict(parse(*CONFIGS[1]), file="README.md")
    github = config.sources["github"]
    assert github.cron and "jitter" in README
    now = datetime(2026, 12, 5, 9, 1, tzinfo=UTC)
    due = {next_poll_time(github, config, now, random.Random(seed)) for seed in range(5)}
    on_the_dot = datetime(2026, 12, 5, 9, 5, tzinfo=UTC)
    assert len(due) == 5 and all(on_the_dot <= t <= on_the_dot.replace(second=30) for t in due)
