"""AI1 summaries through the real engine: a real cycle over a loopback GitHub stores an alert with
its plain text; the summary step (mrt.ai_hooks) holds its first tries at most
ai.summary_wait_seconds, rewrites them with the summary from the fake OpenAI-compatible endpoint
(cached by fingerprint, model and prompt version), or lets them go with the plain text; the real
sender then delivers to a loopback JSON webhook."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from ai_fake import FakeAi
from pytest_httpserver import HTTPServer
from test_replay_support import Sink, config_data, drain, make_engine, run_cycle, write_config
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.ai.client import AiClient, AiSettings
from mrt.ai_hooks import SummaryReport, SummaryStep
from mrt.cli import main
from mrt.config import Config
from mrt.delivery import channels
from mrt.delivery.sender import Sender
from mrt.pipeline import Engine
from mrt.secrets import Scrubber
from mrt.store import ai_cache, outbox
from mrt.store.models import AiCacheEntry, Alert, Outbox, database_proxy
from worker.ai_step import AiWorker

T1 = T0 + timedelta(minutes=10)  # the cycle that sees the change
WAIT = 20


def setup(db: peewee.Database, db_path: Path, tmp_path: Path, server: HTTPServer,
          alerts: int = 1, **ai: Any) -> tuple[Sink, FakeAi, Config, Engine]:
    sink = Sink(server)
    fake = FakeAi(server)
    second = {"hook2": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}}
    data = config_data(server, db_path, ai={
        "enabled": True, "base_url": fake.base_url, "model": "qwen3-8b", "max_retries": 0,
        "summary_wait_seconds": WAIT, **ai})
    data["channels"].update(second)
    config = write_config(tmp_path / "mrt.json", data)
    engine = make_engine(db, config)
    issues = recorded_issues()
    FakeGitHub(server, "PyGithub/PyGithub", issues)
    run_cycle(engine, T0)  # baseline
    for n in range(alerts):
        issues[n]["title"] = f"DeepSeek-V{3 + n} tokenizer"
        close(issues[n], T0 + timedelta(minutes=5))
    report = run_cycle(engine, T1)
    assert report.alerts == alerts and Outbox.select().count() == 2 * alerts  # hook and hook2
    return sink, fake, config, engine


def step_run(config: Config, engine: Engine, now: Callable[[], datetime]
             ) -> tuple[SummaryReport, dict[str, int]]:
    settings = AiSettings.from_config(config.ai, {})
    assert settings is not None

    async def go() -> tuple[SummaryReport, dict[str, int]]:
        async with AiClient(settings) as client:
            step = SummaryStep(config, client, engine.renderer, lambda: engine.targets,
                               engine.db, Scrubber())
            return await step.run(now), client.usage.snapshot()

    return asyncio.run(go())


def sent_texts(sink: Sink) -> list[str]:
    return [str(body) for body in sink.received]


def test_summary_replaces_the_text_of_every_first_try_and_is_cached(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    fake.chat = lambda body: {"lines": ["PyGithub fixes the DeepSeek-V3 tokenizer.",
                                        "Nothing to do unless you pin PyGithub."]}

    report, used = step_run(config, engine, lambda: T1 + timedelta(seconds=1))

    assert (report.summarised, report.plain, report.cache_hits) == (2, 0, 0)
    assert len(fake.requests) == 1  # one event, two rows: asked once
    assert used["chat_calls"] == 1 and used["chat_prompt_tokens"] > 0
    entry = AiCacheEntry.get()
    assert (entry.capability, entry.model, entry.prompt_version) == ("summary", "qwen3-8b",
                                                                     "summary-1")
    # a second worker (nothing in memory) finds the summary in the database, not at the model
    report, used = step_run(config, engine, lambda: T1 + timedelta(seconds=2))
    assert report.cache_hits == 1 and len(fake.requests) == 1 and used["summary_cache_hits"] == 1

    assert drain(config, T1 + timedelta(seconds=3)) == 2
    for text in sent_texts(sink):
        assert "PyGithub fixes the DeepSeek-V3 tokenizer." in text
        assert "(summary by qwen3-8b)" in text



def test_mrt_trace_shows_what_ai_produced_for_the_event(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    fake.chat = lambda body: {"lines": ["PyGithub fixes the DeepSeek-V3 tokenizer."]}
    step_run(config, engine, lambda: T1 + timedelta(seconds=1))
    fingerprint = AiCacheEntry.get().fingerprint

    code = main(["trace", fingerprint[:12], "--config", str(tmp_path / "mrt.json")])
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own

    out = capsys.readouterr().out
    assert code == 0
    assert f"  ai: summary by qwen3-8b (prompt summary-1) at {T1:%Y-%m-%d %H:%M}" in out


def test_a_row_waits_at_most_the_bound_and_a_late_summary_is_never_sent(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    settings = AiSettings.from_config(config.ai, {})
    assert settings is not None
    step = SummaryStep(config, AiClient(settings), engine.renderer, lambda: engine.targets,
                       engine.db, Scrubber())
    held = step.hold_new(T1 + timedelta(seconds=1))  # what a sender does before claiming
    assert len(held) == 2 and outbox.count_due(T1 + timedelta(seconds=WAIT - 1)) == 0
    assert outbox.count_due(T1 + timedelta(seconds=WAIT)) == 2  # the bound: then it goes plain
    asyncio.run(step.client.aclose())

    # the model answers after the wait: 0.3 s were left of it at this clock
    fake.slow_seconds = 1.0
    fake.script = ["slow"]
    report, used = step_run(config, engine, lambda: T1 + timedelta(seconds=WAIT - 0.3))
    assert (report.summarised, report.plain, report.degraded) == (0, 2, None)
    assert used["summary_fallbacks"] == 1 and AiCacheEntry.select().count() == 0
    assert drain(config, T1 + timedelta(seconds=WAIT - 0.2)) == 2  # due at once, plain
    assert not any("summary by" in t for t in sent_texts(sink))

    # the model answers now: the sent rows are not rewritten, nothing is sent again
    report, _ = step_run(config, engine, lambda: T1 + timedelta(seconds=WAIT - 0.1))
    assert (report.summarised, report.plain) == (0, 0)
    assert drain(config, T1 + timedelta(minutes=5)) == 0 and len(sink.received) == 2


@pytest.mark.parametrize(
    ("answer", "script"),
    [({"lines": []}, []), ({"lines": ["ok"], "priority": "critical"}, []), (None, ["malformed"])],
)
def test_an_answer_out_of_its_schema_leaves_the_plain_text_and_is_no_degradation(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer,
    answer: Any, script: list[str],
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    fake.script = script
    if answer is not None:
        fake.chat = lambda body: answer

    report, used = step_run(config, engine, lambda: T1 + timedelta(seconds=1))

    assert (report.summarised, report.plain, report.degraded) == (0, 2, None)
    assert used["summary_fallbacks"] == 1 and used["chat_failures"] == 1
    assert Alert.select().where(Alert.kind == "ai_health").count() == 0
    assert ai_cache.degraded_since() is None
    assert drain(config, T1 + timedelta(seconds=1)) == 2
    assert not any("summary by" in t for t in sent_texts(sink))


async def adrain(config: Config, now: datetime) -> int:
    sender = Sender(
        config.model_copy(
            update={"delivery": config.delivery.model_copy(update={"min_interval_seconds": 0})}
        ),
        channels.resolve_targets(config, {}),
        lambda target, message, timeout: channels.send(target, message, timeout=timeout),
        owner="test",
        rng=random.Random(3),
    )
    return (await sender.run_once(now)).sent


def test_the_daemon_order_holds_before_each_claim_then_sends_the_summary(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    fake.chat = lambda body: {"lines": ["PyGithub fixes the DeepSeek-V3 tokenizer."]}
    ai = AiWorker(lambda: config, {}, lambda: engine, db)

    async def daemon_turns() -> list[int]:
        sent = []
        ai.hold_new(T1 + timedelta(seconds=1))  # the sender's task, right before its claim
        sent.append(await adrain(config, T1 + timedelta(seconds=1)))
        await ai.fill(lambda: T1 + timedelta(seconds=2))  # the AI task
        ai.hold_new(T1 + timedelta(seconds=3))
        sent.append(await adrain(config, T1 + timedelta(seconds=3)))
        await ai.aclose()
        return sent

    assert asyncio.run(daemon_turns()) == [0, 2]
    assert all("PyGithub fixes the DeepSeek-V3 tokenizer." in t for t in sent_texts(sink))


def test_after_an_endpoint_failure_new_alerts_are_not_held_for_a_while(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    fake.down()
    ai = AiWorker(lambda: config, {}, lambda: engine, db)

    async def turns() -> tuple[SummaryReport | None, int, int]:
        report = await ai.fill(lambda: T1 + timedelta(seconds=1))
        first = await adrain(config, T1 + timedelta(seconds=1))
        events = Alert.select(Alert.id).where(Alert.kind == "event")
        Outbox.update(status="pending", attempts=0, sent_at=None).where(
            Outbox.alert.in_(events)).execute()  # as if new alerts had come
        ai.hold_new(T1 + timedelta(seconds=30))  # within the rest: not held
        second = await adrain(config, T1 + timedelta(seconds=30))
        await ai.aclose()
        return report, first, second

    report, first, second = asyncio.run(turns())
    assert report is not None and report.degraded == (
        "AI endpoint /chat/completions: HTTP 503") and report.notified
    assert (first, second) == (4, 2)  # the alert and the notice, each to two channels; then
    # the alert's two rows again, plain, at once: the endpoint is resting
    assert len(fake.requests) == 1
    assert Alert.select().where(Alert.kind == "ai_health").count() == 1
    texts = sent_texts(sink)
    assert sum("MRT AI degraded" in t for t in texts) == 2  # once, on each of the two channels
    assert not any("summary by" in t for t in texts)


def test_our_own_budget_spent_sends_the_rest_plain_and_is_no_degradation(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, fake, config, engine = setup(db, db_path, tmp_path, httpserver, alerts=3,
                                       requests_per_minute=1)

    report, used = step_run(config, engine, lambda: T1 + timedelta(seconds=1))

    assert (report.summarised, report.plain, report.degraded) == (2, 4, None)
    assert report.over_budget and len(fake.requests) == 1 and used["chat_over_budget"] >= 1
    assert Alert.select().where(Alert.kind == "ai_health").count() == 0
    assert drain(config, T1 + timedelta(seconds=1)) == 6
    assert sum("summary by" in t for t in sent_texts(sink)) == 2


def test_a_reload_that_turns_ai_off_stops_holding_and_closes_the_client(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink, _fake, config, engine = setup(db, db_path, tmp_path, httpserver)
    off = config.model_copy(update={"ai": config.ai.model_copy(update={"enabled": False})})
    current = [config]
    ai = AiWorker(lambda: current[0], {}, lambda: engine, db)

    async def turns() -> list[int]:
        ai.hold_new(T1 + timedelta(seconds=1))  # AI on: held
        held = await adrain(config, T1 + timedelta(seconds=1))
        assert ai._step is not None
        old = ai._step.client
        current[0] = off  # SIGHUP with `enabled = false`
        ai.hold_new(T1 + timedelta(seconds=2))
        await asyncio.gather(*ai._closing)  # the old client's close, scheduled by the reload
        assert old._http.is_closed
        released = await adrain(off, T1 + timedelta(seconds=WAIT))  # the bound: plain
        return [held, released]

    assert asyncio.run(turns()) == [0, 2]
    assert ai.hold_new(T1 + timedelta(seconds=3)) is None and ai._step is None
    assert not any("summary by" in t for t in sent_texts(sink))


def test_ai_degraded_is_told_once_per_degradation(db: peewee.Database) -> None:
    told = []
    for n, step in enumerate(["down", "down", "up", "down", "down"]):
        at = T1 + timedelta(minutes=n)
        if step == "down":
            told.append(ai_cache.mark_degraded("AI endpoint /chat/completions: HTTP 503", at))
        else:
            told.append(ai_cache.mark_healthy(at))
    # first failure told; the second not; recovery noted; a new degradation told again
    assert told == [True, False, True, True, False]
    assert ai_cache.degraded_since() == T1 + timedelta(minutes=3)
