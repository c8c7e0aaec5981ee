"""Burst folding: a target whose backlog its budget cannot let out within fold_after_seconds
gets the waiting alerts in one message; each folded row says which message it went out in."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, enqueue_alerts
from test_sender_budgets import Robot, load, only_target, run, sender
from werkzeug import Request, Response

from mrt.cli import main
from mrt.config import config_with_warnings
from mrt.store.models import DeliveryAttempt, Outbox


class JsonSink:
    """An Apprise json:// endpoint that records each message it accepts."""

    def __init__(self, server: HTTPServer) -> None:
        self.messages: list[dict[str, str]] = []
        self.requests = 0
        self.fail_on: set[int] = set()  # these requests (1, 2, ...) answer 500
        server.expect_request("/hook", method="POST").respond_with_handler(self.handle)
        self.url = f"json://127.0.0.1:{server.port}/hook"

    def handle(self, request: Request) -> Response:
        self.requests += 1
        if self.requests in self.fail_on:
            return Response("down", status=500)
        self.messages.append(json.loads(request.get_data()))
        return Response("ok")


def json_config(sink: JsonSink, **delivery: object):  # type: ignore[no-untyped-def]
    data = {"channels": {"robot": {"urls": [sink.url], "rate": {"burst": 2, "per_minute": 6}}},
            "delivery": delivery}
    return config_with_warnings(data).config


def test_a_burst_past_the_budget_goes_out_folded_and_each_row_names_its_message(
    db: peewee.Database, db_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = JsonSink(httpserver)
    config = json_config(sink)
    s = sender(config)
    ids = enqueue_alerts(T0, [only_target(config)], count=12)

    # twelve waiting, two tokens and six more a minute: the last would wait past 60 s
    assert run(s, T0).sent == 1  # one message for all of them
    assert run(s, T0 + timedelta(minutes=5)).claimed == 0

    [folded] = sink.messages
    assert folded["title"].startswith("[MRT] 12 alerts at once")
    text = folded["message"]
    assert text.startswith("Why: releases: event_type is release_published\n")  # shared: once
    for i in range(12):
        assert f"• release {i}\n" in text
    assert text.count("https://github.com/vllm-project/vllm/releases/tag/v0.7.0") == 12
    rows = {r.id: r for r in Outbox.select()}
    assert all(r.status == "sent" and r.attempts == 1 for r in rows.values())
    carrier = ids[0]
    assert [i for i in ids if rows[i].folded_into == carrier] == ids[1:]
    assert rows[carrier].folded_into is None

    assert main(["trace", "--db", str(db_path), str(Outbox.get_by_id(ids[5]).alert_id)]) == 0
    told = capsys.readouterr().out
    assert f"inside the message of outbox #{carrier}" in told


def test_a_failed_fold_gives_its_alerts_back_unfolded_and_uncounted(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink = JsonSink(httpserver)
    config = json_config(sink, backoff_base_seconds=1, backoff_max_seconds=1)
    s = sender(config)
    ids = enqueue_alerts(T0, [only_target(config)], count=12)
    sink.fail_on = {1}
    report = run(s, T0)
    # the carrier failed; it may go again at once (1 s backoff), folding the others once more
    assert report.retrying == 1
    members = list(Outbox.select().where(Outbox.id.in_(ids[1:])))
    unfolded = DeliveryAttempt.select().where(DeliveryAttempt.outbox.in_(ids[1:]))
    assert {a.outcome for a in unfolded if a.outcome != "sent"} == {"unfolded"}
    assert all(r.attempts <= 1 for r in members)  # the failed fold was nobody's attempt
    at = T0
    while Outbox.select().where(Outbox.status != "sent").count():
        at += timedelta(seconds=10)
        run(s, at)
    titles = [line for m in sink.messages for line in m["message"].splitlines() if line.startswith("•")]
    assert sorted(titles) == sorted(f"• release {i}" for i in range(12))  # each once
    attempts = {r.id: r.attempts for r in Outbox.select()}
    assert attempts.pop(ids[0]) == 2  # the carrier's failure was its own attempt...
    assert set(attempts.values()) == {1}  # ...and nobody else's


def test_a_fold_fits_the_robots_500_characters_and_the_rest_waits_its_turn(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    config = load(robot, {"rate": {"burst": 2, "per_minute": 6}})
    s = sender(config)
    enqueue_alerts(T0, [only_target(config)], count=12)
    at = T0
    for _ in range(20):
        run(s, at)
        at += timedelta(seconds=10)
    assert {r.status for r in Outbox.select()} == {"sent"}
    assert all(len(text) <= 500 for text in robot.accepted)
    listed = [line for text in robot.accepted for line in text.splitlines()
              if line.startswith("• release") or line.startswith("release ")]
    names = sorted(line.split()[2] if line.startswith("•") else line.split()[1] for line in listed)
    assert names == sorted(str(i) for i in range(12))  # every alert once, none twice
    assert 2 < len(robot.accepted) < 12
