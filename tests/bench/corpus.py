"""Realistic events for the ingest benchmark, built from the recorded GitHub payloads.

The 30 recorded PyGithub issues and pull requests (tests/fixtures/upstream/github/) give real
titles, bodies, labels and authors; each synthetic event takes one of them and varies it the
way a busy model-serving repository does: a model name mentioned in a share of the titles, a
bracketed kind prefix, extra labels, bot authors, twenty repositories, and a few repeats (the
overlap a cursor re-reads), so rules, dedupe and the outbox see the mix they see in production.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from test_source_support import recorded_issues

from mrt.events import TrackerEvent

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
REPOS = [
    "vllm-project/vllm", "sgl-project/sglang", "huggingface/transformers", "huggingface/tgi",
    "ollama/ollama", "ggml-org/llama.cpp", "NVIDIA/TensorRT-LLM", "InternLM/lmdeploy",
    "microsoft/DeepSpeed", "pytorch/pytorch", "triton-lang/triton", "mlc-ai/mlc-llm",
    "deepseek-ai/DeepSeek-V3", "QwenLM/Qwen", "openai/triton", "vllm-project/llm-compressor",
    "modelscope/ms-swift", "hiyouga/LLaMA-Factory", "unslothai/unsloth", "PyGithub/PyGithub",
]
MODELS = ["DeepSeek-V3", "deepseek-r1", "Qwen2.5-72B-Instruct", "qwen3", "Llama-3.1-8B",
          "Mistral-7B-v0.3", "gemma-2-9b", "Phi-3-mini", "GLM-4", "Yi-1.5-34B", "InternLM2.5",
          "Mixtral-8x22B"]
PREFIXES = ["", "", "", "", "", "", "[Bug] ", "[Bug] ", "[Feature] ", "[RFC] ", "[Misc] ",
            "[Perf] ", "[Doc] "]
EXTRA_LABELS = ["bug", "enhancement", "documentation", "performance", "good first issue",
                "stale", "wontfix", "duplicate", "ci", "model-support"]
BOTS = ["dependabot[bot]", "pre-commit-ci[bot]", "github-actions[bot]"]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    user = item.get("user") or {}
    return {
        "title": str(item.get("title") or ""),
        "body": " ".join(str(item.get("body") or "").split()),
        "labels": [str(label.get("name", "")) for label in item.get("labels") or []],
        "author": str(user.get("login", "")),
        "is_pr": "pull_request" in item,
    }


def make_events(count: int, *, seed: int = 7, repeat_share: float = 0.05) -> list[TrackerEvent]:
    """`count` events (about `repeat_share` of them repeats of earlier ones), oldest first."""
    rng = random.Random(seed)
    bases = [_plain(i) for i in recorded_issues()]
    events: list[TrackerEvent] = []
    for n in range(count):
        if events and rng.random() < repeat_share:
            events.append(events[rng.randrange(len(events))])
            continue
        base = bases[n % len(bases)]
        repo = REPOS[rng.randrange(len(REPOS))]
        title = base["title"]
        if rng.random() < 0.2:
            model = rng.choice(MODELS)
            title = rng.choice([f"Support {model}: {title}", f"{title} with {model}",
                                f"{model} {title.lower()}"])
        title = rng.choice(PREFIXES) + title
        body = base["body"][:400]
        if rng.random() < 0.2:
            body += f" Reproduced on {rng.choice(MODELS)} with tp={rng.choice([1, 2, 4, 8])}."
        extra = [rng.choice(EXTRA_LABELS)] if rng.random() < 0.3 else []
        labels = sorted(set(base["labels"]) | set(extra))
        author = rng.choice(BOTS) if rng.random() < 0.08 else base["author"]
        number = 10_000 + n
        kind = rng.choice(["pr_opened", "pr_merged", "pr_closed"] if base["is_pr"]
                          else ["issue_opened", "issue_closed", "issue_reopened"])
        at = T0 + timedelta(seconds=n)
        events.append(TrackerEvent(
            source="github",
            source_key=f"github:{repo}",
            resource_type="pull_request" if base["is_pr"] else "issue",
            resource_id=f"{repo}#{number}",
            event_type=kind,
            event_id=f"{number}:{kind}",
            title=title,
            summary=body,
            url=f"https://github.com/{repo}/issues/{number}",
            author=author,
            labels=tuple(labels),
            occurred_at=at,
            observed_at=at,
            details={"number": number, "labels": labels, "author": author, "repo": repo,
                     "merged": kind == "pr_merged", "state": "closed" if "clos" in kind
                     or "merg" in kind else "open"},
            raw={"id": 900_000 + n, "number": number, "title": title},
        ))
    return events


def bench_rules(sink_url: str) -> dict[str, Any]:
    """A config with 20 rules (keywords, word keywords, RE2 patterns, labels, authors, event
    types, tags with `continue`) and two webhook channels, as a team watching engines would."""
    rules: list[dict[str, Any]] = [
        {"name": "no-bots", "when": {"authors": ["*[bot]"]}, "suppress": True},
        {"name": "no-stale", "when": {"labels": ["stale", "wontfix", "duplicate"]},
         "suppress": True},
        {"name": "tag-perf", "when": {"regex": {"pattern": r"(?i)\b(perf|latency|throughput)"}},
         "tag": ["perf"]},
        {"name": "tag-docs", "when": {"labels": ["documentation"]}, "tag": ["docs"]},
        {"name": "tag-model", "when": {"regex": {"pattern": r"(?i)(deepseek|qwen|llama|mistral)"
                                                 r"[-_ ]?(v?\d+(\.\d+)?)?"}},
         "tag": {"tags": ["model"], "priority": "normal"}},
        {"name": "deepseek-merged", "when": {"keywords": ["deepseek"],
                                             "event_type": ["pr_merged"]},
         "notify": {"channels": ["team", "oncall"], "priority": "high"}},
        {"name": "deepseek-v3", "when": {"regex": {"pattern": r"(?i)deepseek[-_ ]?v3"}},
         "notify": {"channels": ["team"], "priority": "high"}},
        {"name": "deepseek-r1", "when": {"keywords": {"terms": ["deepseek-r1", "r1"],
                                                      "word": True}},
         "notify": {"channels": ["team"]}},
        {"name": "qwen-word", "when": {"keywords": {"terms": ["qwen3", "qwen2.5"], "word": True}},
         "notify": {"channels": ["team"]}},
        {"name": "qwen-any", "when": {"regex": {"pattern": r"(?i)qwen\d*(\.\d+)?-\d+b"}},
         "notify": {"channels": ["team"]}},
        {"name": "glm", "when": {"keywords": ["glm-4", "chatglm"]},
         "notify": {"channels": ["team"]}},
        {"name": "security", "when": {"keywords": ["cve-20", "vulnerability"]},
         "notify": {"channels": ["team", "oncall"], "priority": "critical"}},
        {"name": "crash", "when": {"regex": {"pattern": r"(?i)(segfault|core dumped|"
                                             r"illegal memory access|nan loss)"}},
         "notify": {"channels": ["oncall"], "priority": "high"}},
        {"name": "perf-regression", "when": {"tags": ["perf"], "labels": ["bug"]},
         "notify": {"channels": ["oncall"]}},
        {"name": "rfc", "when": {"regex": {"pattern": r"^\[RFC\]", "field": "title"}},
         "notify": {"channels": ["team"], "priority": "low"}},
        {"name": "tensor-parallel", "when": {"regex": {"pattern": r"tp=(4|8)"}},
         "notify": {"channels": ["team"], "priority": "low"}},
        {"name": "mixtral-moe", "when": {"keywords": {"terms": ["mixtral", "moe"],
                                                      "word": True}},
         "notify": {"channels": ["team"]}},
        {"name": "new-model-support", "when": {"labels": ["model-support"],
                                               "event_type": ["pr_merged", "issue_opened"]},
         "notify": {"channels": ["team"]}},
        {"name": "github-api", "when": {"all": [{"keywords": ["github"]},
                                                {"not": {"labels": ["documentation"]}}],
                                        "source_key": "github:vllm-project/*"},
         "notify": {"channels": ["team"], "priority": "low"}},
        {"name": "engines-release", "when": {"resource_id": ["sgl-project/sglang#1*"],
                                             "event_type": ["pr_merged"]},
         "notify": {"channels": ["team"]}},
    ]
    assert len(rules) == 20
    return {
        "channels": {
            "team": {"urls": [f"{sink_url}/team"]},
            "oncall": {"urls": [f"{sink_url}/oncall"]},
        },
        "delivery": {"min_interval_seconds": 0},
        "rules": rules,
    }
