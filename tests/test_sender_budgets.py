"""Rate budgets instead of spacing: a config through the loader, a WeLink robot on loopback
(our plugin, the real `channels.send`), a real SQLite file, the clock driven through `now`."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, enqueue_alerts
from werkzeug import Request, Response

from mrt.config import Config, config_with_warnings
from mrt.delivery import channels
from mrt.delivery.budget import budgets_for
from mrt.delivery.sender import Sender, SendReport
from mrt.message import Rate, Target
from mrt.store.models import DeliveryAttempt, Outbox, TargetBudget

PATH = "/api/werobot/v1/webhook/send"
TOKEN = "wl-budget-SECRET-0123456789"


class Robot:
    """A WeLink robot that answers from a script, then accepts; it records what it accepted."""

    def __init__(self, server: HTTPServer) -> None:
        self.script: list[Response] = []
        self.accepted: list[str] = []
        server.expect_request(PATH, method="POST").respond_with_handler(self.handle)
        self.url = f"welink://{TOKEN}@127.0.0.1:{server.port}{PATH}?secure=no"

    def handle(self, request: Request) -> Response:
        if self.script:
            return self.script.pop(0)
        self.accepted.append(json.loads(request.get_data())["content"]["text"])
        return Response(json.dumps({"code": "0", "message": "ok"}), content_type="application/json")


def throttled() -> Response:
    return Response("slow down", status=429)


def load(robot: Robot, channel: dict[str, Any] | None = None, **delivery: Any) -> Config:
    data = {"channels": {"robot": {"urls": [robot.url], **(channel or {})}}, "delivery": delivery}
    return config_with_warnings(data).config


def sender(config: Config, owner: str = "w1") -> Sender:
    targets = channels.resolve_targets(config, {})
    return Sender(config, targets, channels_send, owner, random.Random(1))


async def channels_send(target: Target, message: Any, timeout: float) -> Any:
    return await channels.send(target, message, timeout=timeout)


def only_target(config: Config) -> Target:
    return channels.resolve_targets(config, {})["robot"][0]


def run(s: Sender, now: datetime) -> SendReport:
    return asyncio.run(s.run_once(now))


def outcomes() -> list[str]:
    return [a.outcome for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)]


def test_a_throttled_robot_gets_the_alert_once_its_budget_refills_never_dead(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    robot.script = [throttled(), throttled()]
    config = load(robot, {"rate": {"burst": 2, "per_minute": 6}}, max_attempts=1)
    s = sender(config)
    target = only_target(config)
    [row_id] = enqueue_alerts(T0, [target])

    assert run(s, T0).retrying == 1  # throttled: bucket emptied, one token 10 s from now
    assert run(s, T0 + timedelta(seconds=9)).claimed == 0  # the row is due, the budget is not
    assert run(s, T0 + timedelta(seconds=10)).retrying == 1  # throttled again
    assert run(s, T0 + timedelta(seconds=19)).claimed == 0
    assert run(s, T0 + timedelta(seconds=20)).sent == 1

    row = Outbox.get_by_id(row_id)
    assert (row.status, row.attempts) == ("sent", 1)  # the throttles were never attempts
    assert outcomes() == ["throttled", "throttled", "sent"]
    assert len(robot.accepted) == 1


def test_the_budget_lets_a_burst_out_at_once_and_paces_the_rest_across_workers(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    config = load(robot, {"rate": {"burst": 3, "per_minute": 6}}, fold_after_seconds=0)
    first, second = sender(config, "w1"), sender(config, "w2")
    target = only_target(config)
    enqueue_alerts(T0, [target], count=5)

    assert run(first, T0).sent == 3  # the burst: no spacing between them
    assert run(second, T0 + timedelta(seconds=1)).claimed == 0  # one budget for both workers
    assert run(second, T0 + timedelta(seconds=10)).sent == 1
    assert run(first, T0 + timedelta(seconds=15)).claimed == 0
    assert run(first, T0 + timedelta(seconds=20)).sent == 1
    assert len(robot.accepted) == 5
    assert first.next_free_at(T0 + timedelta(seconds=20)) is None


def test_run_until_idle_waits_for_the_budget_and_sends_everything(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    config = load(robot, {"rate": {"burst": 2, "per_minute": 60}}, fold_after_seconds=0)
    s = sender(config)
    target = only_target(config)
    enqueue_alerts(T0, [target], count=4)
    clock = [T0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    report = asyncio.run(s.run_until_idle(lambda: clock[0], sleep=sleep))
    assert report.sent == 4 and len(robot.accepted) == 4
    assert sum(slept) >= 2.0 - 1e-6  # two sends past the burst, a token a second


def test_an_explicit_min_interval_keeps_spacing_and_says_a_budget_is_better(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    data = {"channels": {"robot": {"urls": [robot.url]}}, "delivery": {"min_interval_seconds": 3}}
    loaded = config_with_warnings(data)
    assert any(
        w.path == "delivery.min_interval_seconds" and "rate" in w.instead for w in loaded.warnings
    )
    s = sender(loaded.config)
    target = only_target(loaded.config)
    enqueue_alerts(T0, [target], count=2)
    assert run(s, T0).sent == 1
    assert run(s, T0 + timedelta(seconds=2)).claimed == 0  # spaced 3 s as before
    assert run(s, T0 + timedelta(seconds=3)).sent == 1
    assert TargetBudget.select().count() == 0  # no budget for a spaced target

    plain = config_with_warnings({"channels": {"robot": {"urls": [robot.url]}}})
    assert not [w for w in plain.warnings if "min_interval" in w.path]


def test_vendor_defaults_and_overrides_per_channel_and_per_target() -> None:
    config = config_with_warnings({
        "channels": {
            "chat": {"urls": ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"],
                     "rate": {"burst": 5, "per_minute": 30},
                     "rates": {"1": {"burst": 1, "per_minute": 2}}},
            "robot": {"urls": ["welink://tok@127.0.0.1:9/x?secure=no"]},
            "mail": {"urls": ["mailto://u:p@mx.example.org:25/?to=a@example.org",
                              "mailto://u:p@mx.example.org:25/?to=b@example.org"]},
        },
    }).config
    targets = channels.resolve_targets(config, {})
    found = budgets_for(config, targets)
    chat_a, chat_b = targets["chat"]
    assert found[chat_a.key].rate == Rate(5, 30) and found[chat_b.key].rate == Rate(1, 2)
    assert found[targets["robot"][0].key].rate == Rate(10, 10)  # 20 a minute: 10 + 10
    mail_a, mail_b = targets["mail"]
    assert found[mail_a.key] == found[mail_b.key]  # one mail server, one budget
    assert "u:p" not in found[mail_a.key].key
