"""Issue 13's v0 scenario: the v0 example config, 7 matching changes in one cycle, WeLink and
email; how long until all 14 messages have arrived (a row of bench_latency).

`mrt-worker --once` on the v0 example pointed at loopback fakes (tests/test_e2e_support.py's
Upstreams), the WeLink robot at the benchmark sink (its own process) and email at an aiosmtpd
server (no TLS, no login: a relay). The first run is the silent baseline; then seven matching
changes (two issues and two pull requests, two Hugging Face models, one ModelScope model) and a
second run, timed from its launch and from the start of its first source cycle as the database
records it (CycleMetric.started_at) to the last message's arrival.

    python -m tests.bench.v0_scenario      # alone: prints the two figures
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.common import ROOT, child_env, running_sink, upstream_server

MAIL_TO = "oncall@example.org"
TOKEN = "bench-welink-token"


class Mailbox:
    """aiosmtpd handler: the arrival time of every message."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrivals.append(time.time())
        return "250 OK"


def _changes(up: Any) -> None:
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    up.open_issue("vllm-project/vllm", 40003, "Qwen3 MoE kernel is slow on H20")
    up.open_issue("sgl-project/sglang", 40002, "[Model] Qwen3-Next support", pr=True)
    up.open_issue("sgl-project/sglang", 40004, "DeepSeek-R2 speculative decoding", pr=True)
    up.add_hf_model("DeepSeek-V4")
    up.add_hf_model("DeepSeek-V4-Lite")
    up.add_ms_model("DeepSeek-R2")


def _cycle_start(db: Path, after: float) -> float:
    with sqlite3.connect(db) as conn:
        rows = [r[0] for r in conn.execute("SELECT started_at FROM cycle_metric")]
    starts = [datetime.fromisoformat(str(r)).replace(tzinfo=UTC).timestamp() for r in rows]
    return min(s for s in starts if s >= after - 1.0)


def measure_v0_scenario(timeout: float = 60.0) -> tuple[float, float, int]:
    """(seconds from launch to the last message, seconds from the cycle's start, messages)."""
    from aiosmtpd.controller import Controller
    from test_e2e_support import V0_EXAMPLE, Upstreams

    from mrt.delivery.welink import DEFAULT_PATH
    from tests.bench.bench_footprint import worker_command

    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with upstream_server() as server, running_sink() as sink, \
                tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            up = Upstreams(server)
            data = json.loads(V0_EXAMPLE.read_text(encoding="utf-8"))
            for section in data["sources"].values():
                section["base_url"] = server.url_for("/").rstrip("/")
            db = tmp / "mrt_state.sqlite3"
            data["state"]["sqlite_path"] = str(db)
            data["notify"]["email"] = {"smtp_host": "127.0.0.1", "smtp_port": port,
                                       "to_list": [MAIL_TO], "use_tls": False,
                                       "from_addr": "mrt@example.org"}
            config = tmp / "config.json"
            config.write_text(json.dumps(data), encoding="utf-8")
            env = child_env()
            env.update(WELINK_WEBHOOK_URL=f"http://127.0.0.1:{sink.port}{DEFAULT_PATH}"
                       f"?token={TOKEN}&channel=standard",
                       GITHUB_TOKEN="ghp_bench", HF_TOKEN="hf_bench")
            command = [*worker_command(), "--config", str(config), "--once"]
            subprocess.run(command, env=env, cwd=ROOT, check=True, timeout=timeout,
                           capture_output=True)  # the silent baseline
            _changes(up)
            launched = time.time()
            done = subprocess.run(command, env=env, cwd=ROOT, timeout=timeout,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"mrt-worker --once failed: {done.stderr[-2000:]}")
            chat = [at for at, _path, _body in sink.arrivals()]
            started = _cycle_start(db, launched)
    finally:
        smtp.stop()
    arrivals = chat + mailbox.arrivals
    if len(chat) != 7 or len(mailbox.arrivals) != 7:
        raise RuntimeError(f"expected 7 + 7 messages, got {len(chat)} + {len(mailbox.arrivals)}")
    last = max(arrivals)
    if __name__ == "__main__":
        print("chat", [round(a - launched, 2) for a in sorted(chat)])
        print("mail", [round(a - launched, 2) for a in sorted(mailbox.arrivals)])
    return last - launched, last - started, len(arrivals)


if __name__ == "__main__":
    launch, cycle, count = measure_v0_scenario()
    print(f"{count} messages; the last {cycle:.2f} s after the cycle started, "
          f"{launch:.2f} s after launch")
