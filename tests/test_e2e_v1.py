"""The README's v1 TOML config, run by the real worker: named channels and rules decide who hears
about what. The TOML text is the README's, edited only to point at loopback (base URLs, the SMTP
host, the state file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_e2e_readme import CONFIGS
from test_e2e_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    Product,
    SmtpSink,
    Upstreams,
    cycle_report,
    install_robot,
    product_env,
    robot_texts,
    smtp_sink,
)

from mrt.cli import main

__all__ = ["smtp_sink"]  # the fixture, used by name below


def readme_v1_on_loopback(tmp_path: Path, server: HTTPServer, smtp: SmtpSink) -> Path:
    text = next(body for lang, body in CONFIGS if lang == "toml")
    base = server.url_for("/").rstrip("/")
    for section in ("github", "huggingface", "modelscope"):
        header = f"[sources.{section}]\n"
        assert header in text
        text = text.replace(header, f'{header}base_url = "{base}"\n')
    smtp_lines = 'smtp_host = "smtp.example.com"\nsmtp_port = 587\n'
    assert smtp_lines in text
    text = text.replace(smtp_lines, f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n')
    text += f'\n[state]\nsqlite_path = "{tmp_path / "mrt.sqlite3"}"\n'
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_readme_v1_config_routes_by_rules(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = readme_v1_on_loopback(tmp_path, httpserver, smtp_sink)
    env = product_env(tmp_path / "home", httpserver, smtp_sink)
    env.update({"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD})
    product = Product(config, env)

    checked = product.mrt("check", "--config", str(config))  # the README's config is ready
    assert "check: ready" in checked.stdout
    baseline = product.worker_once()
    assert set(cycle_report(baseline)) == {
        "github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
        "huggingface:Qwen", "modelscope:deepseek-ai"}
    assert robot.received == [] and smtp_sink.mailbox.messages == []

    # deepseek-merged: a merged PR that mentions DeepSeek -> team-welink and email
    up.github["vllm-project/vllm"].issue(3043)["title"] = "[Model] DeepSeek MTP speculative decoding"
    up.close_issue("vllm-project/vllm", 3043, merged=True)
    # no rule for a new issue (v1 has no watch_keywords here): stored, told to nobody
    up.open_issue("vllm-project/vllm", 40001, "Qwen3 tokenizer crash")
    # no-bots: a bot's merged DeepSeek PR is suppressed before deepseek-merged can see it
    up.open_issue("sgl-project/sglang", 40002, "Bump deepseek-kernels to 1.2", pr=True,
                  author="dependabot[bot]")
    up.close_issue("sgl-project/sglang", 40002, merged=True)
    # new-models: a new model -> team-welink only
    up.add_hf_model("DeepSeek-V4")

    report = cycle_report(product.worker_once())
    assert report["github:vllm-project/vllm"] == ("ok", 2, 1)
    assert report["github:sgl-project/sglang"] == ("ok", 2, 0)
    assert report["huggingface:deepseek-ai"] == ("ok", 1, 1)

    texts = robot_texts(robot)
    assert robot.problems == [] and len(texts) == 2
    assert sum("DeepSeek MTP speculative decoding" in t for t in texts) == 1
    assert sum("deepseek-ai/DeepSeek-V4" in t for t in texts) == 1
    (mail,) = [msg for _, msg in smtp_sink.mailbox.messages]
    assert "DeepSeek MTP speculative decoding" in str(mail["Subject"]) + mail.get_body(
        ("plain",)).get_content()
    assert not any("Bump deepseek-kernels" in t or "Qwen3 tokenizer" in t for t in texts)

    merged = next(r for r in product.outbox() if r["channel"] == "email")
    (alert,) = product.trace(merged["fingerprint"])["alerts"]
    assert [m["rule"] for m in alert["matched"]] == ["deepseek-merged"]
    assert alert["priority"] == "high"


@pytest.mark.parametrize("url", [
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=t0ken&channel=standard",
    "http://127.0.0.1:8080/api/werobot/v1/webhook/send?token=t0ken&channel=standard",
    "welink://t0ken?channel=standard",
])
def test_mrt_check_accepts_a_welink_channel_the_worker_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Found by the test above: `mrt check` parsed channel URLs without our WeLink plugin, so
    every WeLink channel (robot URL or welink://) was "not understood" and check exited 2."""
    config = tmp_path / "config.toml"
    config.write_text('version = 1\n[state]\nsqlite_path = "db.sqlite3"\n'
                      '[channels.team-welink]\nurl_env = ["WELINK_WEBHOOK_URL"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WELINK_WEBHOOK_URL", url)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "channels.team-welink.url_env[0]: parses (welink://" in out
    assert "t0ken" not in out
