"""`mrt-tui --serve`: the console over HTTP on loopback, gated, and shown in a real browser."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import peewee
import pytest
from browser_cdp import find_browser, headless_page, screen_text
from tui_seed import NOW, add_alert, console_scene

from tui.main import main as tui_main
from tui.serve import bind_refusal, console_command

TITLE = "Qwen3-Omni-30B weights published upstream"
TOKEN = "x4Jp0-test-token-9QeL2v"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


@pytest.fixture
def seeded(db: peewee.Database, db_path: Path) -> Path:
    console_scene()
    add_alert(TITLE, at=NOW, source_key="huggingface:deepseek-ai")  # the newest: the top row
    db.close()
    return db_path


def serve(db_path: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    port = free_port()
    argv = [sys.executable, "-c", "from tui.main import main; main()", "--serve", "--db",
            str(db_path), "--port", str(port), *extra]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:  # a real server in another process: wait until it listens
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    out = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"mrt-tui --serve did not start (exit {process.poll()}): {out}")
                time.sleep(0.1)
        yield Served(url, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and the consoles it started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def served(seeded: Path) -> Iterator[Served]:
    yield from serve(seeded)


@pytest.fixture
def served_with_token(seeded: Path) -> Iterator[Served]:
    yield from serve(seeded, "--token-env", "MRT_TEST_CONSOLE_TOKEN",
                     env={"MRT_TEST_CONSOLE_TOKEN": TOKEN})


def test_the_page_loads_on_loopback_and_fetches_nothing_from_elsewhere(served: Served) -> None:
    page = httpx.get(served.url, timeout=10)
    assert page.status_code == 200
    assert f'data-session-websocket-url="ws://{served.url[7:]}ws"' in page.text
    assert "MRT console" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    script = httpx.get(served.url + "static/js/textual.js", timeout=10)
    assert script.status_code == 200 and len(script.content) > 100_000


def test_another_site_cannot_reach_the_console_through_the_browser(served: Served) -> None:
    """DNS rebinding (a foreign Host) and a cross-site websocket (a foreign Origin) are refused."""
    rebound = httpx.get(served.url, headers={"Host": "attacker.example:80"}, timeout=10)
    assert rebound.status_code == 421
    cross = httpx.get(served.url + "ws", headers={"Origin": "http://attacker.example"}, timeout=10)
    assert cross.status_code == 403


def test_a_token_is_checked_on_the_page_the_files_and_the_websocket(
    served_with_token: Served,
) -> None:
    url = served_with_token.url
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, params={"token": TOKEN[:-1] + "!"}, timeout=10).status_code == 401
    assert httpx.get(url + "ws", timeout=10).status_code == 401
    assert httpx.get(url + "static/js/textual.js", timeout=10).status_code == 401
    page = httpx.get(url, params={"token": TOKEN}, timeout=10)
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with httpx.Client(cookies=page.cookies, timeout=10) as browser:
        assert browser.get(url + "static/js/textual.js").status_code == 200


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier]
        found += children
        frontier = children
    return found


@pytest.mark.anyio
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
async def test_the_consoles_a_token_protects_never_see_the_token(
    served_with_token: Served,
) -> None:
    import aiohttp

    url = served_with_token.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(url, params={"token": TOKEN}) as page:
            assert page.status == 200
        async with session.ws_connect(url.replace("http", "ws") + "ws?width=100&height=30") as ws:
            first = await ws.receive(timeout=30)  # the console started and drew
            assert first.type == aiohttp.WSMsgType.BINARY
            consoles = descendants(served_with_token.process.pid)
            assert consoles, "no console process was started for the websocket"
            for pid in consoles:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                assert not any(e.startswith(b"MRT_TEST_CONSOLE_TOKEN=") for e in environ)
                assert not any(TOKEN.encode() in e for e in environ)


def test_a_non_loopback_bind_without_a_token_is_refused(
    seeded: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        tui_main(["--serve", "--host", "0.0.0.0", "--db", str(seeded)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "refusing to serve the console on 0.0.0.0" in err and "--token-env VAR" in err


def test_a_port_in_use_is_said_without_a_traceback(seeded: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "from tui.main import main; main()", "--serve", "--db",
             str(seeded), "--port", str(port)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"mrt-tui: cannot listen on 127.0.0.1:{port}: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_wrong_port_or_a_serve_option_alone_is_a_usage_error(
    seeded: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, said in ((["--serve", "--port", "70000"], "expected a port number from 1 to 65535"),
                       (["--read-write"], "--read-write and --token-env go with --serve")):
        with pytest.raises(SystemExit) as stopped:
            tui_main([*argv, "--db", str(seeded)])
        assert stopped.value.code == 2
        assert said in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "token_env", "env", "said"),
    [
        ("0.0.0.0", None, {}, "not a loopback address"),
        ("::", None, {}, "not a loopback address"),
        ("console.example", None, {}, "not a loopback address"),
        ("0.0.0.0", "T", {}, "the variable T is not set or empty"),
        ("0.0.0.0", "T", {"T": "short"}, "the token is 5 characters long"),
        ("0.0.0.0", "T", {"T": TOKEN}, None),
        ("127.0.0.1", None, {}, None),
        ("::1", None, {}, None),
        ("localhost", None, {}, None),
    ],
)
def test_bind_refusal(host: str, token_env: str | None, env: dict[str, str], said: str | None) -> None:
    refusal = bind_refusal(host, token_env, env)
    assert (refusal is None) if said is None else (refusal is not None and said in refusal)


def test_the_served_console_is_read_only_unless_asked() -> None:
    def args(*argv: str) -> argparse.Namespace:
        return argparse.Namespace(screen="alerts", config=None, db="/srv/mrt.sqlite3",
                                  read_write="--read-write" in argv)

    assert console_command(args()).endswith("--db /srv/mrt.sqlite3 --read-only")
    assert "--read-only" not in console_command(args("--read-write"))
    assert "--serve" not in console_command(args())


@pytest.mark.anyio
async def test_a_real_browser_shows_the_alerts_screen(served: Served, tmp_path: Path) -> None:
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium: install Debian's `chromium` (.ci/run does when it is root)")
    async with headless_page(browser, tmp_path / "profile") as page:
        await page.call("Page.navigate", url=served.url)
        shown = await page.wait_for(f"(window.__terminalText || '').includes({TITLE!r})")
        text = screen_text(await page.evaluate("window.__terminalText"))
        assert shown, f"the page never showed {TITLE!r}; the terminal showed:\n{text[-2000:]}"
        assert "1 Alerts" in text and "READ-ONLY" in text
        assert "-first-byte" in await page.evaluate("document.body.className")  # intro gone
        await asyncio.sleep(0.5)  # the screenshot only: let the canvas paint the last frame
        shot = Path(os.environ.get("MRT_SCREENSHOT", tmp_path / "served-console.png"))
        await page.screenshot(shot)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
