"""`mrt-tui --serve`: the console in a browser, through textual-serve.

textual-serve (Textualize's own) runs one console process per browser tab behind an aiohttp
server: the page at `/`, the terminal stream at `/ws`. It has no access control of its own, so
this module puts a gate in front of every route (aiohttp middlewares):

- the bind is loopback unless a token is given: `--host 0.0.0.0` without `--token-env VAR`
  is refused before anything listens (`bind_refusal`);
- with a token, every request must carry it: `/?token=...` once (the page then holds it in an
  HttpOnly, SameSite=Strict cookie, which its websocket and static files send), else 401;
- the Host header must name the server (a loopback name, or any name with a token), and a
  websocket's Origin must be the page's own: another web site the operator visits cannot
  drive or read the console through the browser (DNS rebinding, cross-site websockets);
- every page says `Content-Security-Policy: default-src 'self'`: nothing is fetched from
  elsewhere (the stock page would load a web font from Google);
- the console is read-only (`--read-only`, SQLite query_only) unless `--read-write`.

The token's variable is removed from this process's environment before any console starts,
so the consoles never see it.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

TOKEN_COOKIE = "mrt_console_token"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def bind_refusal(host: str, token_env: str | None, env: dict[str, str]) -> str | None:
    """Why the console must not be served as asked, or None. Said before anything listens."""
    if token_env is not None:
        token = env.get(token_env, "")
        if not token:
            return f"--token-env {token_env}: the variable {token_env} is not set or empty"
        if len(token) < MIN_TOKEN_LENGTH:
            return (f"--token-env {token_env}: the token is {len(token)} characters long; use at "
                    f"least {MIN_TOKEN_LENGTH} (e.g. `python3 -c 'import secrets; "
                    "print(secrets.token_urlsafe())'`)")
        return None
    if not is_loopback(host):
        return (f"refusing to serve the console on {host}: it is not a loopback address, and "
                "without a token anyone who can reach it could use the console. Put a token "
                "in an environment variable and pass --token-env VAR, or bind to 127.0.0.1 "
                "(the default)")
    return None


def console_command(args: argparse.Namespace) -> str:
    """The command line of the console each browser tab runs: this console's own arguments,
    read-only unless --read-write, never --serve again."""
    argv = [sys.executable, "-c", "from tui.main import main; main()", "--screen", args.screen]
    if args.config:
        argv += ["--config", str(args.config)]
    if args.db:
        argv += ["--db", str(args.db)]
    if not args.read_write:
        argv.append("--read-only")
    return shlex.join(argv)


def _host_of(value: str) -> str:
    return (urlsplit(f"//{value}").hostname or "").lower()


class ConsoleServer(Server):
    """textual-serve's Server with the gate above in front of its routes."""

    def __init__(self, command: str, *, host: str, port: int, token: str | None, banner: str) -> None:
        super().__init__(command, host=host, port=port, title="MRT console")
        self.token = token
        self.banner = banner

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(self._gate)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            status, text = refusal
            return web.Response(status=status, text=text + "\n", headers={"Content-Security-Policy": CSP})
        response = await handler(request)
        if not response.prepared:  # a websocket is already under way: its headers are sent
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"  # the token may be in the URL
            if self.token and request.query.get("token"):
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict",
                                    path="/")
        return response

    def _refusal(self, request: web.Request) -> tuple[int, str] | None:
        host = _host_of(request.host)
        if self.token is None and not is_loopback(host):
            return 421, f"this console answers to loopback names only, not {host!r}"
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            return 403, "the request comes from another site's page"
        if self.token is not None:
            given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "a token is needed: open the address with ?token=... (see mrt-tui --serve)"
        return None

    async def handle_index(self, request: web.Request) -> Any:
        # textual-serve writes its websocket address from public_url: use the address the
        # browser used (the gate has checked it), so a 0.0.0.0 bind works from elsewhere.
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def on_startup(self, app: web.Application) -> None:
        print(self.banner, flush=True)


def serve(args: argparse.Namespace, env: dict[str, str] | None = None) -> int:
    """Serve until interrupted; 2 (and a message) when the bind is refused."""
    env = dict(os.environ) if env is None else env
    refusal = bind_refusal(args.host, args.token_env, env)
    if refusal:
        print(f"mrt-tui: {refusal}", file=sys.stderr)
        return 2
    token = env.get(args.token_env) if args.token_env else None
    if args.token_env:
        os.environ.pop(args.token_env, None)  # the consoles this serves never see it
    host = f"[{args.host}]" if ":" in args.host else args.host
    mode = "read-write" if args.read_write else "read-only"
    url = f"http://{host}:{args.port}/" + (f"?token=${args.token_env}" if token else "")
    banner = f"mrt-tui: serving the console ({mode}) on {url}; Ctrl+C stops it"
    server = ConsoleServer(console_command(args), host=args.host, port=args.port, token=token,
                           banner=banner)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not this machine's ...
        print(f"mrt-tui: cannot listen on {host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
