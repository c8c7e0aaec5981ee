"""The User-Agent names the project truthfully (its declared homepage, or none) and carries the
operator's `http.contact`, as GitHub asks (issue 18): through the real loader and worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import FakeGitHub, recorded_issues

from mrt import __version__
from mrt.cli import main as mrt_main
from mrt.http import USER_AGENT, homepage
from worker.main import main as worker_main

REPO = "PyGithub/PyGithub"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(home: Path, server: HTTPServer, http_section: str) -> Path:
    path = home / "config.toml"
    path.write_text(
        f"{http_section}\n"
        f'[state]\nsqlite_path = "{home / "mrt.sqlite3"}"\n\n'
        f'[sources.github]\nrepos = ["{REPO}"]\nbase_url = "{server.url_for("/").rstrip("/")}"\n',
        encoding="utf-8",
    )
    return path


def expected(contact: str | None) -> str:
    home = homepage()
    details = [d for d in (f"+{home}" if home else None, contact) if d]
    name = f"model-release-tracker/{__version__}"
    return f"{name} ({'; '.join(details)})" if details else name


def user_agents(server: HTTPServer) -> set[str]:
    return {request.headers.get("User-Agent", "") for request, _ in server.log}


def test_the_upstream_hears_the_configured_contact(home: Path, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    path = config(home, httpserver, '[http]\ncontact = "ops@example.com"\n')
    assert worker_main(["--config", str(path), "--once"]) == 0
    assert user_agents(httpserver) == {expected("ops@example.com")}


def test_without_a_contact_the_user_agent_names_no_address_that_is_not_ours(
    home: Path, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    path = config(home, httpserver, "")
    assert worker_main(["--config", str(path), "--once"]) == 0
    assert user_agents(httpserver) == {expected(None)} == {USER_AGENT}
    # pyproject.toml declares no homepage today: then the User-Agent gives none
    assert "github.com/model-release-tracker" not in USER_AGENT


@pytest.mark.parametrize(
    "contact",
    ['"ops (on call)"', '"ops\\r\\nX-Injected: 1"', '""', '"caf\u00e9@example.com"', "42"],
)
def test_a_contact_that_cannot_go_into_a_header_is_a_config_error(
    home: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str], contact: str
) -> None:
    path = config(home, httpserver, f"[http]\ncontact = {contact}\n")
    assert mrt_main(["check", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "http.contact" in out + err and "Traceback" not in out + err
    assert worker_main(["--config", str(path), "--once"]) == 2
    assert "http.contact" in capsys.readouterr().err
    assert not httpserver.log
