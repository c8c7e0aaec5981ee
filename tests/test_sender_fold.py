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

    # two tokens: the first alert alone, the other eleven in one message with the last token
    assert run(s, T0).sent == 2
    assert run(s, T0 + timedelta(minutes=5)).claimed == 0

    assert len(sink.messages) == 2
    folded = sink.messages[1]
    assert folded["title"].startswith("[MRT] 11 alerts at once")
    for i in range(1, 12):
        assert f"• release {i} (releases: event_type is release_published)" in folded["message"]
    assert folded["message"].count("https://github.com/vllm-project/vllm/releases/tag/v0.7.0") == 11
    rows = {r.id: r for r in Outbox.select()}
    assert all(r.status == "sent" and r.attempts == 1 for r in rows.values())
    carrier = ids[1]
    assert [i for i in ids if rows[i].folded_into == carrier] == ids[2:]
    assert rows[carrier].folded_into is None and rows[ids[0]].folded_into is None

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
    sink.fail_on = {2}
    report = run(s, T0)
    assert (report.sent, report.retrying) == (1, 1)  # the carrier failed: its members wait
    rows = list(Outbox.select().where(Outbox.id.in_(ids[2:])))
    assert all(r.folded_into is None and r.attempts == 0 for r in rows)
    assert {r.status for r in rows} == {"pending"}
    assert {a.outcome for a in DeliveryAttempt.select().where(DeliveryAttempt.outbox.in_(ids[2:]))} == {"unfolded"}
    # the budget refills a token in 10 s: the eleven go out folded again, nothing twice
    assert run(s, T0 + timedelta(seconds=10)).sent == 1
    titles = [line for m in sink.messages for line in m["message"].splitlines() if line.startswith("•")]
    titles += [m["title"] for m in sink.messages if not m["title"].startswith("[MRT]")]
    assert len(sink.messages) == 2 and len(titles) == 12
    assert {r.status for r in Outbox.select()} == {"sent"}


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
