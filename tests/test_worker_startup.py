"""What `mrt-worker --once` imports, asserted on sys.modules (never on time).

Start-up to the first request is mostly imports (docs/PERFORMANCE.md, "Footprint"). Apprise
imports every notification plugin it has (about a fifth of the worker's imports); it is needed
by a config with an Apprise channel, and by no other. croniter is needed by a cron schedule or
a digest only, feedparser and BeautifulSoup by the first feed a source reads, Jinja2 by the
first template checked or message rendered, prometheus_client (worker.health) by a daemon with
`observability.metrics_listen` only. A config loads the source plugins it names, not every
installed one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import FakeGitHub, recorded_issues
from werkzeug import Response

from mrt.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

# the worker's entry point, run once, then what it had imported
ONCE = """
import json, sys
from worker.main import main
try:
    code = main(["--once", "--config", sys.argv[1]])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

LOAD = """
import json, sys
from mrt.config import load_config
load_config(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def run(code: str, config: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def github_config(httpserver: HTTPServer, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    FakeGitHub(httpserver, "acme/engine", recorded_issues())
    return {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": {"github": {"repos": ["acme/engine"],
                               "base_url": httpserver.url_for("/").rstrip("/")}},
        **extra,
    }


def test_a_worker_without_apprise_channels_never_imports_apprise(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    out = run(ONCE, github_config(httpserver, tmp_path), tmp_path)
    assert out["code"] == 0  # the cycle ran: the fake was polled and the events stored
    modules = set(out["modules"])
    assert "mrt.sources.github" in modules and "mrt.pipeline" in modules
    for name in ("apprise", "mrt.delivery.apprise_channel", "mrt.delivery.welink", "requests",
                 "croniter", "textual", "feedparser", "bs4", "jinja2",
                 # /metrics is served only with observability.metrics_listen
                 "prometheus_client", "worker.health"):
        assert name not in modules, name


def test_a_github_once_run_with_ai_off_loads_no_ai_replay_nor_daemon_parts(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """With AI off, no rules-change replay policy, no clustering window: the AI client and its
    cache, the replay planner, and the daemon's retention, webhooks and watcher are imported by
    the run that needs them, not by every start (a --once run polls, commits and delivers)."""
    config = github_config(httpserver, tmp_path)
    assert run(ONCE, config, tmp_path)["code"] == 0  # the first install: the baseline
    out = run(ONCE, config, tmp_path)
    assert out["code"] == 0
    modules = set(out["modules"])
    assert {"mrt.pipeline", "worker.ai_step", "mrt.ai.usage"} <= modules  # the AI step ran, off
    for name in ("mrt.ai.client", "mrt.ai_about", "mrt.store.ai_cache", "mrt.ai.clusters",
                 "mrt.noise.clusters", "mrt.replay", "mrt.ops.replay", "mrt.store.replay",
                 "worker.retention", "mrt.store.maintenance", "worker.webhooks", "worker.watch"):
        assert name not in modules, name


def test_a_once_run_imports_the_sender_after_its_first_request_and_still_delivers(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The sender (its claim, budget, run and report modules) is built when the run first
    sends, after the cycles: what was imported when the worker first connected upstream (the
    audit event of the first socket.connect) is without it; the new match still goes out."""
    import copy
    from datetime import UTC, datetime

    from test_source_support import iso

    posts: list[Any] = []
    httpserver.expect_request("/hook", method="POST").respond_with_handler(
        lambda request: posts.append(request.get_json()) or Response("ok"))
    fake = FakeGitHub(httpserver, "acme/engine", recorded_issues())
    base = httpserver.url_for("/").rstrip("/")
    config = {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": {"github": {"repos": ["acme/engine"], "base_url": base}},
        "watch_keywords": ["deepseek"],
        "channels": {"hook": {"urls": [base.replace("http://", "json://") + "/hook"]}},
    }
    code = (
        "import sys\n"
        "first = []\n"
        "def seen(event, args):\n"
        "    if event == 'socket.connect' and not first:\n"
        "        first.append(sorted(sys.modules))\n"
        "sys.addaudithook(seen)\n" + ONCE.replace(
            '"modules": sorted(sys.modules)', '"modules": sorted(sys.modules), "first": first[0]'))
    assert run(ONCE, config, tmp_path)["code"] == 0  # the silent baseline
    issue = copy.deepcopy(fake.issues[0])
    now = iso(datetime.now(UTC))
    issue.update(number=99999, title="Support DeepSeek-V9 weights", state="open",
                 created_at=now, updated_at=now, closed_at=None)
    issue["html_url"] = issue["html_url"].rsplit("/", 1)[0] + "/99999"
    issue.pop("pull_request", None)
    fake.issues.append(issue)

    out = run(code, config, tmp_path)
    assert out["code"] == 0
    sender = {"mrt.delivery.sender", "mrt.delivery.send_report", "mrt.store.outbox_claim",
              "mrt.noise.flush"}  # the ended windows and digests: flushed after the cycles
    assert "mrt.sources.github" in out["first"] and not sender & set(out["first"])
    assert sender <= set(out["modules"])
    assert len(posts) == 1 and "DeepSeek-V9" in posts[0]["title"] + posts[0]["message"]


def test_the_policies_that_need_them_still_load_the_ai_clusters_and_the_replay(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    config = github_config(httpserver, tmp_path)
    assert run(ONCE, config, tmp_path)["code"] == 0
    config["aggregation"] = {"cluster_window_minutes": 30}
    config["delivery"] = {"rules_change_replay_hours": 24}
    out = run(ONCE, config, tmp_path)
    assert out["code"] == 0
    assert {"mrt.noise.clusters", "mrt.ai.clusters", "mrt.ops.replay", "mrt.replay"} <= set(
        out["modules"])


def test_a_configured_apprise_channel_still_loads_apprise(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    # form:// is a scheme only Apprise serves
    hook = {"hook": {"urls": [httpserver.url_for("/hook").replace("http://", "form://")]}}
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    out = run(ONCE, github_config(httpserver, tmp_path, channels=hook), tmp_path)
    assert out["code"] == 0
    assert {"apprise", "mrt.delivery.apprise_channel"} <= set(out["modules"])


def test_welink_json_and_chat_robot_channels_never_import_apprise(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """WeLink robots, JSON webhooks and the chat vendors' robots are keyed and sent by us (mrt.delivery.target_urls,
    mrt.delivery.webhook): their channels must not load Apprise's ~190 plugin modules."""
    base = httpserver.url_for("/").rstrip("/")
    host = base.removeprefix("http://")
    channels = {
        "robot": {"urls": [f"welink://t0ken0123456789@{host}/api/werobot/v1/webhook/send"
                           "?secure=no&at=u1"]},
        "v0robot": {"url_env": ["WELINK_URL"]},
        "hook": {"urls": [f"json://{host}/hook?+X-Token=abc", "jsons://hooks.example.org/x"]},
        "ding": {"type": "dingtalk", "urls": ["dingtalk://abcdef0123456789/?at=u1"]},
        "wecom": {"type": "wecombot", "urls": ["wecombot://key-0123-4567-89ab"]},
        "console": {"type": "console"},
    }
    config = github_config(httpserver, tmp_path, channels=channels)
    code = "import os; os.environ['WELINK_URL'] = " + repr(
        f"{base}/api/werobot/v1/webhook/send?token=abcdefgh12345678&channel=standard") + ONCE
    out = run(code, config, tmp_path)
    assert out["code"] == 0
    modules = set(out["modules"])
    assert "mrt.delivery.target_urls" in modules  # the targets were resolved
    # (mrt.delivery.apprise_channel, the default channel type, is loaded: it imports Apprise
    # only to build or send a target of a scheme we do not read)
    for name in ("apprise", "mrt.delivery.welink", "requests"):
        assert name not in modules, name


def test_loading_a_config_imports_only_the_source_plugins_it_names(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    modules = set(run(LOAD, github_config(httpserver, tmp_path), tmp_path))
    sources = {m for m in modules if m.startswith("mrt.sources.") and m.count(".") == 2}
    assert sources == {"mrt.sources.github"}, sources


def test_the_worker_imports_only_the_source_plugins_its_config_names(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Host budgets are read host by host (mrt.plugins.SourceBudgets), not by importing every
    installed source plugin before the config is read."""
    out = run(ONCE, github_config(httpserver, tmp_path), tmp_path)
    assert out["code"] == 0
    sources = {m for m in out["modules"] if m.startswith("mrt.sources.") and m.count(".") == 2}
    assert sources == {"mrt.sources.github"}, sources


def test_source_budgets_come_from_the_plugins_in_use_then_from_every_plugin() -> None:
    from mrt.plugins import SOURCES_GROUP, PluginSet, SourceBudgets, host_budgets

    plugins = PluginSet(SOURCES_GROUP)
    budgets = SourceBudgets(plugins)
    assert plugins["github"] is not None  # what the config loader does for a GitHub config
    assert budgets["api.github.com"] == host_budgets()["api.github.com"]
    assert budgets.get("127.0.0.1") is None and budgets.get("localhost") is None
    assert [m.__name__ for m in plugins.loaded()] == ["mrt.sources.github"]  # nothing else
    # a host no plugin in use declares (a feed on arXiv's RSS): every plugin's table, as before
    assert budgets["rss.arxiv.org"] == host_budgets()["rss.arxiv.org"]
    assert budgets.get("feeds.example.org") is None
    assert dict(budgets) == host_budgets()


def test_welink_and_json_deliveries_never_import_apprise(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A matching change delivered to a WeLink robot and refused by a JSON webhook (HTTP 500,
    worded as Apprise words it): the sends, the refusal and its retry bookkeeping, no Apprise."""
    import copy
    from datetime import UTC, datetime

    from test_e2e_support import install_robot, robot_texts
    from test_source_support import iso
    from werkzeug import Request, Response

    robot, _ = install_robot(httpserver)
    posts: list[Any] = []

    def refuse(request: Request) -> Response:
        posts.append(request.get_json())
        return Response("busy", status=500)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(refuse)
    base = httpserver.url_for("/").rstrip("/")
    host = base.removeprefix("http://")
    fake = FakeGitHub(httpserver, "acme/engine", recorded_issues())
    config = {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": {"github": {"repos": ["acme/engine"], "base_url": base}},
        "watch_keywords": ["deepseek"],
        "channels": {
            "robot": {"urls": [f"welink://t0ken0123456789@{host}/api/werobot/v1/webhook/send"
                               "?secure=no"]},
            "hook": {"urls": [f"json://{host}/hook"]},
        },
    }
    assert run(ONCE, config, tmp_path)["code"] == 0  # the silent baseline
    issue = copy.deepcopy(fake.issues[0])
    now = iso(datetime.now(UTC))
    issue.update(number=99999, title="Support DeepSeek-V9 weights", state="open",
                 created_at=now, updated_at=now, closed_at=None)
    issue["html_url"] = issue["html_url"].rsplit("/", 1)[0] + "/99999"
    issue.pop("pull_request", None)
    fake.issues.append(issue)

    out = run(ONCE, config, tmp_path)
    assert [t for t in robot_texts(robot) if "DeepSeek-V9" in t], robot_texts(robot)
    assert len(posts) == 1 and "DeepSeek-V9" in posts[0]["title"] + posts[0]["message"]
    assert "apprise" not in set(out["modules"]) and "requests" not in set(out["modules"])


def test_a_worker_on_a_migrated_sqlite_database_loads_no_postgresql_driver_nor_httpx_cli(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """peewee imports psycopg2 (and libpq, ~5 MiB) whenever it is installed, httpx its command
    line client with click, rich and pygments: mrt/deferred.py keeps both out of a worker
    that uses neither (a first install still migrates with playhouse.migrate, which does)."""
    config = github_config(httpserver, tmp_path)
    assert run(ONCE, config, tmp_path)["code"] == 0  # the first install: creates, migrates
    out = run(ONCE, config, tmp_path)
    assert out["code"] == 0
    modules = set(out["modules"])
    for name in ("psycopg2", "playhouse.migrate", "playhouse.postgres_ext", "click", "rich",
                 "pygments"):
        assert name not in modules, name


def test_a_json_config_naming_its_database_reads_no_toml_nor_platform_dirs_at_start(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """tomllib is imported by a TOML config, platformdirs by a config found in the user's
    config directory or with no database path; the rules' word pattern (~3 ms to compile,
    mrt.ai.lexical) by the first `about` topic read, not by importing the rules; the rules'
    schema models by the JSON Schema."""
    code = ONCE.replace(
        'print(json.dumps({"code": code, "modules": sorted(sys.modules)}))',
        "import mrt.ai.lexical as lexical\n"
        "from mrt.rules.model import RuleSchema, WhenSchema\n"
        'print(json.dumps({"code": code, "modules": sorted(sys.modules),'
        ' "patterns": lexical._word.cache_info().currsize,'
        ' "schemas built": [RuleSchema.__pydantic_complete__, WhenSchema.__pydantic_complete__]}))')
    out = run(code, github_config(httpserver, tmp_path), tmp_path)
    assert out["code"] == 0
    assert "tomllib" not in out["modules"] and "platformdirs" not in out["modules"]
    # the AI step's summaries and triage: imported by the first pass with AI on
    assert "mrt.ai_hooks" not in out["modules"] and "mrt.ai_triage" not in out["modules"]
    # the HTML parser (and its entity table): by the first release notes of a releases feed
    assert "html.parser" not in out["modules"]
    assert out["patterns"] == 0
    # the rules' JSON Schema models (`mrt config schema`); the parser validates with the leaf
    # models and reads these two's keys only
    assert out["schemas built"] == [False, False]


def test_a_toml_config_and_the_default_paths_still_load_what_they_need(tmp_path: Path) -> None:
    from mrt.config import load_config
    from mrt.config.load import database_target, user_config_dir

    path = tmp_path / "config.toml"
    path.write_text('watch_keywords = ["deepseek"]\n[sources.github]\nrepos = ["acme/engine"]\n')
    config = load_config(str(path))
    assert "deepseek" in config.model_dump_json()  # read from TOML
    assert database_target(config, {}).endswith("/mrt/mrt.sqlite3")  # the user data dir
    assert user_config_dir().name == "mrt"
    bad = tmp_path / "bad.toml"
    bad.write_text("x = ")
    with pytest.raises(ConfigError, match="invalid TOML at the end of the file: Invalid value"):
        load_config(str(bad))


def test_what_the_imports_built_is_moved_out_of_the_collector_once_per_process(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A full collection walked the ~45,000 objects the imports built (~15 ms, the first one
    inside start-up); `mrt-worker` (main() reading sys.argv) freezes them (gc.freeze) when it
    starts, once. A caller in the process (main(argv), as the tests run it) freezes nothing:
    its own objects could become garbage that a frozen generation never frees."""
    code = (
        "import gc, json, sys\n"
        "from worker.main import main\n"
        "config = sys.argv[1]\n"
        "in_process = main(['--once', '--config', config])\n"
        "by_caller = gc.get_freeze_count()\n"
        "sys.argv = ['mrt-worker', '--once', '--config', config]\n"
        "program = main()\n"
        "frozen = gc.get_freeze_count()\n"
        "again = main()\n"
        "print(json.dumps({'codes': [in_process, program, again], 'by caller': by_caller,"
        " 'frozen': frozen, 'after': gc.get_freeze_count()}))\n"
    )
    out = run(code, github_config(httpserver, tmp_path), tmp_path)
    assert out["codes"] == [0, 0, 0]
    assert out["by caller"] == 0
    assert out["frozen"] > 10_000  # the imports' objects, not a handful
    assert out["after"] == out["frozen"]  # once per process
