"""Issue 4's "done when", end to end: the real `mrt-worker --once` (and v0's `python -m mrt`)
on the v0 example config pointed at loopback fakes, a fake WeLink robot that checks like the
real one, and a real SMTP server with STARTTLS and AUTH."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import (
    MAIL_TO,
    SMTP_USER,
    Product,
    SmtpSink,
    Upstreams,
    cycle_report,
    install_robot,
    loopback_config,
    product_env,
    robot_texts,
    smtp_sink,
    wait_for,
)
from werkzeug import Response

__all__ = ["smtp_sink"]  # the fixture, used by name below

MATCHING = {
    "Support DeepSeek-V3.2 sparse attention",  # vllm: a new issue
    "[Model] Qwen3-Next support",  # sglang: a new pull request
    "deepseek-ai/DeepSeek-V4",  # Hugging Face: a new model (its id is its title)
    "DeepSeek-R2",  # ModelScope: a new model (its display name is its title)
}
KEYS = ["github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
        "modelscope:deepseek-ai"]


def make_changes(up: Upstreams) -> set[str]:
    """Four matching changes and three that match nothing; returns the non-matching titles."""
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    up.open_issue("sgl-project/sglang", 40002, "[Model] Qwen3-Next support", pr=True)
    up.add_hf_model("DeepSeek-V4")
    up.add_ms_model("DeepSeek-R2")
    closed = up.close_issue("vllm-project/vllm", 3042)
    merged = up.close_issue("sgl-project/sglang", 3045, merged=True)
    up.add_ms_model("Janus-Pro-7B")
    return {closed, merged, "Janus-Pro-7B"}


def test_v0_example_alerts_once_per_matching_event_on_welink_and_email(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver, smtp=smtp_sink)
    product = Product(config, product_env(tmp_path / "home", httpserver, smtp_sink))

    # 1. the first run is a silent baseline
    baseline = product.worker_once()
    assert cycle_report(baseline) == {key: ("ok", 0, 0) for key in KEYS}
    assert robot.received == [] and smtp_sink.mailbox.messages == []
    assert all(row["cursor"] is not None for row in product.sources().values())

    # 2. upstream changes: only the matching ones are told, once per target
    quiet = make_changes(up)
    second = product.worker_once()
    report = cycle_report(second)
    assert {key: outcome for key, (outcome, _, _) in report.items()} == dict.fromkeys(KEYS, "ok")
    assert sum(new for _, new, _ in report.values()) == 7
    assert sum(alerts for _, _, alerts in report.values()) == 4

    assert robot.problems == []
    texts = robot_texts(robot)
    assert len(texts) == 4
    for title in MATCHING:
        assert sum(title in text for text in texts) == 1, (title, texts)
    assert not any(title in text for text in texts for title in quiet)

    mails = smtp_sink.mailbox.messages
    assert len(mails) == 4 and all(rcpts == [MAIL_TO] for rcpts, _ in mails)
    assert smtp_sink.mailbox.tls_at_auth and all(smtp_sink.mailbox.tls_at_auth)
    assert set(smtp_sink.mailbox.logins) == {SMTP_USER}
    bodies = [str(msg["Subject"]) + "\n" + msg.get_body(("plain",)).get_content()
              for _, msg in mails]
    for title in MATCHING:
        assert sum(title in body for body in bodies) == 1, (title, bodies)
    assert not any(title in body for body in bodies for title in quiet)

    sent = product.outbox("--status", "sent")
    assert len(sent) == 8 and {row["channel"] for row in sent} == {"welink", "email"}

    # 3. nothing changed: nothing new, by v0's own entry point this time
    third = product.python_m_once()
    assert cycle_report(third) == {key: ("ok", 0, 0) for key in KEYS}
    assert len(robot.received) == 4 and len(smtp_sink.mailbox.messages) == 4

    # `mrt trace` of a delivered event: every target and its attempt
    fingerprint = sent[0]["fingerprint"]
    trace = product.trace(fingerprint)
    assert trace["event"]["fingerprint"] == fingerprint
    (alert,) = trace["alerts"]
    assert [m["rule"] for m in alert["matched"]] == ["watch_keywords"]
    deliveries = {d["channel"]: d for d in alert["deliveries"]}
    assert set(deliveries) == {"welink", "email"}
    for delivery in deliveries.values():
        assert delivery["status"] == "sent"
        assert delivery["attempts"] == 1
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["sent"]
    # secrets never reach what the operator sees
    shown = "".join(run.stdout + run.stderr for run in product.runs)
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("mrt_state.sqlite3*"))
    for secret in ("wl-SECRET-token-0123456789", "s3cret-Pa$$word", "ghp_e2e_fake_token"):
        assert secret not in shown
        assert secret.encode() not in stored


def test_a_target_that_fails_five_times_then_recovers_receives_the_alert(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    up = Upstreams(httpserver)
    robot, script = install_robot(httpserver)
    # a v1 delivery section in the v0 file: retries come due within a fraction of a second
    config = loopback_config(tmp_path, httpserver, smtp=smtp_sink, extra={"delivery": {
        "backoff_base_seconds": 0.001, "backoff_max_seconds": 0.005, "min_interval_seconds": 0}})
    product = Product(config, product_env(tmp_path / "home", httpserver, smtp_sink))
    product.worker_once()

    script.failures_left = 5
    up.add_hf_model("DeepSeek-V4")
    failed = product.worker_once(expect=(0, 4))  # 4 unless its retries got through in the run
    # email is another target: the robot's failures never hold it back
    assert len(smtp_sink.mailbox.messages) == 1

    # each run retries what is due; a retry not yet due waits for the next run (as from cron)
    assert (failed.returncode == 4) == ("NOT ALL DELIVERED" in failed.stdout)
    wait_for(lambda: len(robot.received) >= 6, deadline_seconds=60,
             step=lambda: product.worker_once(expect=(0, 4)))
    assert [r["status"] for r in product.outbox("--channel", "welink")] == ["sent"]

    assert robot.problems == []
    assert len(robot.received) == 6  # five failures, then the one that got through
    assert len({body["uuid"] for body in robot.received}) == 6
    (row,) = product.outbox("--channel", "welink")
    trace = product.trace(str(row["alert_id"]))
    deliveries = {d["channel"]: d for d in trace["alerts"][0]["deliveries"]}
    welink = deliveries["welink"]["attempt_log"]
    assert [a["outcome"] for a in welink] == ["retry"] * 5 + ["sent"]
    assert all(a["http_status"] == 500 for a in welink[:5])
    assert [a["outcome"] for a in deliveries["email"]["attempt_log"]] == ["sent"]
    assert len(smtp_sink.mailbox.messages) == 1


def test_an_always_failing_target_ends_dead_and_outbox_retry_delivers_it(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot, script = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver, extra={"delivery": {
        "max_attempts": 3, "backoff_base_seconds": 0.001, "backoff_max_seconds": 0.005,
        "min_interval_seconds": 0}})
    product = Product(config, product_env(tmp_path / "home", httpserver))
    product.worker_once()

    script.always = True
    script.failure = lambda: Response('{"code": "58500", "message": "busy"}')
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    failing = product.worker_once(expect=4)  # the robot refused: the run says so, exit 4
    assert "deliveries: NOT ALL DELIVERED" in failing.stdout

    wait_for(lambda: len(robot.received) >= 3, deadline_seconds=60,
             step=lambda: product.worker_once(expect=(0, 4)))
    (row,) = product.outbox("--status", "dead", expect=4)  # dead letters listed: exit 4
    assert row["attempts"] == 3 and "58500" in (row["last_error"] or "")
    attempts = product.trace(str(row["alert_id"]))["alerts"][0]["deliveries"][0]["attempt_log"]
    assert [a["outcome"] for a in attempts] == ["retry"] * 2 + ["dead"]
    assert all(a["vendor_code"] == "58500" for a in attempts)
    assert len(robot.received) == 3

    script.always = False
    retried = product.mrt("outbox", "--config", str(config), "retry", "--all-dead", "--yes",
                          "--reason", "robot fixed")
    assert "retried 1" in retried.stdout
    product.worker_once()

    (row,) = product.outbox()
    assert (row["status"], row["attempts"]) == ("sent", 4)
    assert len(robot.received) == 4 and robot.problems == []
    assert "Support DeepSeek-V3.2 sparse attention" in robot.received[-1]["content"]["text"]
