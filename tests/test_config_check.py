"""`mrt check` on real files: a real SQLite database, the real environment, real Apprise parsing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.store.db import open_database
from mrt.store.migrations import LATEST, migrate
from mrt.store.models import SchemaVersion

ROOT = Path(__file__).resolve().parent.parent
V0_EXAMPLE = ROOT / "share" / "examples" / "v0-config.json"
WELINK_URL = (
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send"
    "?token=WELINKSECRET0001&channel=standard"
)
SECRETS = ("WELINKSECRET0001", "ghp_GITHUBSECRET0002", "HOOKSECRET0003", "PGSECRET0004")


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN", "WELINK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    output = out + err
    assert "Traceback" not in output
    for secret in SECRETS:
        assert secret not in output
    return code, out


def line_of(out: str, what: str) -> str:
    matches = [line for line in out.splitlines() if f" {what}:" in line[:60]]
    assert len(matches) == 1, out
    return matches[0]


def write(home: Path, name: str, text: str) -> Path:
    path = home / name
    path.write_text(text, encoding="utf-8")
    return path


def test_v0_example_passes_with_its_env_vars(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WELINK_WEBHOOK_URL", WELINK_URL)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_GITHUBSECRET0002")
    code, out = run_check(capsys, "--config", str(V0_EXAMPLE))
    assert code == 0, out
    assert line_of(out, "config") == f"ok    config: {V0_EXAMPLE} is valid"
    assert line_of(out, "rules").startswith("ok    rules: 0 rule(s), 2 watch keyword(s); version ")
    db_line = line_of(out, "database")
    assert db_line.startswith(f"ok    database: {home / 'mrt_state.sqlite3'} (does not exist yet")
    assert not (home / "mrt_state.sqlite3").exists()  # check never creates the database
    assert line_of(out, "env GITHUB_TOKEN").startswith("ok ")
    assert line_of(out, "env WELINK_WEBHOOK_URL").startswith("ok ")
    assert line_of(out, "env HF_TOKEN").startswith("warn ")  # optional: a warning, not a failure
    welink = line_of(out, "notify.welink")
    assert welink == (
        "ok    notify.welink: webhook URL from WELINK_WEBHOOK_URL parses "
        "(https://open.welink.huaweicloud.com/…)"
    )
    assert out.rstrip().endswith("check: ready: 0 error(s), 1 warning(s)")


def test_v0_example_fails_naming_the_missing_webhook(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_GITHUBSECRET0002")
    code, out = run_check(capsys, "--config", str(V0_EXAMPLE))
    assert code == 2
    assert line_of(out, "env WELINK_WEBHOOK_URL") == (
        "error env WELINK_WEBHOOK_URL: not set (required by "
        "notify.welink.webhook_env): nothing can be sent to WeLink (the variable holds the "
        "robot's webhook URL)"
    )
    assert "check: not ready: 1 error(s)" in out


def test_missing_github_token_says_what_it_costs(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WELINK_WEBHOOK_URL", WELINK_URL)
    monkeypatch.setenv("GITHUB_TOKEN", "")  # set but empty counts as missing
    code, out = run_check(capsys, "--config", str(V0_EXAMPLE))
    assert code == 0
    assert "without GITHUB_TOKEN GitHub allows 60 requests an hour; with it 5,000" in line_of(
        out, "env GITHUB_TOKEN"
    )


def test_a_welink_url_without_its_token_is_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WELINK_WEBHOOK_URL", "https://open.welink.huaweicloud.com/send?channel=x")
    code, out = run_check(capsys, "--config", str(V0_EXAMPLE))
    assert code == 2
    assert "has no token or channel parameter" in line_of(out, "notify.welink")


def test_a_migrated_database_is_reported_writable_and_current(
    home: Path, db: object, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        home,
        "c.toml",
        f'[state]\nsqlite_path = "{db_path}"\n[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 0, out
    assert line_of(out, "database") == (
        f"ok    database: {db_path} (writable, schema version {LATEST}, the latest)"
    )


def test_a_v0_state_database_is_reported_as_to_be_upgraded(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = home / "mrt_state.sqlite3"
    with sqlite3.connect(legacy) as conn:
        conn.execute("CREATE TABLE seen_events (fingerprint TEXT PRIMARY KEY, first_seen_at TEXT)")
    conn.close()
    config = write(
        home,
        "c.json",
        '{"state": {"sqlite_path": "mrt_state.sqlite3"}, "sources": {"modelscope": {"orgs": ["Qwen"]}}}',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 0, out
    db_line = line_of(out, "database")
    assert db_line.startswith(f"warn  database: {legacy} (writable; a v0 state database")
    assert f"migrates it to version {LATEST} on start, after a backup" in db_line


def test_a_database_from_a_newer_mrt_fails_with_exit_1(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "newer.sqlite3"
    database = open_database(path)
    migrate(database)
    SchemaVersion.create(
        version=LATEST + 1, name="future", applied_at=SchemaVersion.select().get().applied_at
    )
    database.close()
    config = write(
        home,
        "c.toml",
        '[state]\nsqlite_path = "newer.sqlite3"\n[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 1
    assert f"schema version {LATEST + 1} is newer than this MRT knows" in line_of(out, "database")


def test_a_file_that_is_not_a_database_fails_with_exit_1(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "junk.sqlite3").write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    config = write(
        home,
        "c.toml",
        '[state]\nsqlite_path = "junk.sqlite3"\n[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 1
    assert "file is not a database" in line_of(out, "database")


def test_channel_urls_are_parsed_and_never_printed_in_full(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOOK_URL", "json://hooks.example.com/HOOKSECRET0003")
    monkeypatch.setenv("HOOK_TOKEN", "HOOKSECRET0003")
    monkeypatch.setenv("BROKEN_URL", "nosuchscheme://HOOKSECRET0003")
    config = write(
        home,
        "c.toml",
        """
[sources.modelscope]
orgs = ["Qwen"]

[channels.team]
urls = ["jsons://hooks.example.com/${HOOK_TOKEN}", "slack://T0000/B0000/XXXXXXXX"]
url_env = ["HOOK_URL", "BROKEN_URL"]

[channels.later]
urls = ["json://localhost/${NOT_SET_YET}"]
""",
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 2
    assert line_of(out, "channels.team.urls[0]").startswith(
        "ok    channels.team.urls[0]: parses (jsons://"
    )
    literal = line_of(out, "channels.team.urls[1]")
    assert literal.startswith("warn ") and "move it to the environment" in literal
    assert "XXXXXXXX" not in literal
    assert line_of(out, "channels.team.url_env[0]").startswith("ok ")
    assert line_of(out, "channels.team.url_env[1]") == (
        "error channels.team.url_env[1]: nosuchscheme://…: Apprise does not understand this URL"
    )
    assert line_of(out, "channels.later.urls[0]") == (
        "warn  channels.later.urls[0]: not checked: NOT_SET_YET is not set"
    )
    assert line_of(out, "env NOT_SET_YET").startswith(
        "error env NOT_SET_YET: not set (required by channels.later.urls[0])"
    )


def test_a_channel_type_without_a_plugin_is_an_error_not_a_crash(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        home,
        "c.toml",
        '[sources.modelscope]\norgs = ["Qwen"]\n[channels.birds]\ntype = "carrier-pigeon"\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 2
    assert line_of(out, "channels.birds").startswith(
        "error channels.birds: no channel plugin named 'carrier-pigeon'"
    )


def test_a_missing_database_url_secret_is_named(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        home,
        "c.toml",
        '[state]\nurl = "postgresql://mrt:${PGPASS}@127.0.0.1:1/mrt"\n[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 2
    assert line_of(out, "env PGPASS").startswith(
        "error env PGPASS: not set (required by state.url)"
    )
    assert "the environment variable PGPASS is not set" in line_of(out, "database")


def test_check_runs_on_the_built_in_default(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_check(capsys)
    assert line_of(out, "config").startswith(
        "ok    config: built-in default (no file found; looked for "
    )
    assert str(home / "xdg-config" / "mrt" / "config.toml") in out
    assert line_of(out, "database").startswith(
        f"ok    database: {home / 'xdg-data' / 'mrt' / 'mrt.sqlite3'}"
    )
    assert line_of(out, "sources") == "ok    sources: github, huggingface, modelscope"
    assert code in (0, 2)  # 2 only while the console channel plugin is not installed
    if code == 2:
        assert "no channel plugin named 'console'" in out


def test_check_copies_nothing_and_creates_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in home.iterdir())
    run_check(capsys, "--config", str(V0_EXAMPLE))
    assert sorted(p.name for p in home.iterdir()) == before


def test_a_missing_ca_bundle_is_an_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(
        home,
        "c.toml",
        '[sources.github]\nrepos = ["a/b"]\nbase_url = "https://ghe.example.com/api/v3"\n'
        'ca_bundle = "corp-ca.pem"\n',
    )
    code, out = run_check(capsys, "--config", str(config))
    assert code == 2
    assert line_of(out, "sources.github.ca_bundle") == (
        "error sources.github.ca_bundle: corp-ca.pem: no such file"
    )
    (home / "corp-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    code, out = run_check(capsys, "--config", str(config))
    assert code == 0, out
    assert "sources.github.ca_bundle" not in out


def test_an_unreachable_postgresql_fails_with_exit_1_and_no_password(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg2")
    monkeypatch.setenv("PGPASS", "PGSECRET0004")
    config = write(
        home,
        "c.toml",
        '[state]\nurl = "postgresql://mrt:${PGPASS}@127.0.0.1:1/mrt"\n'
        '[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))  # asserts PGSECRET0004 is absent
    assert code == 1
    db_line = line_of(out, "database")
    assert db_line.startswith("error database: cannot open the database postgresql://mrt:")
    assert "127.0.0.1" in db_line


def test_a_literal_database_password_is_a_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg2")
    config = write(
        home,
        "c.toml",
        '[state]\nurl = "postgresql://mrt:PGSECRET0004@127.0.0.1:1/mrt"\n'
        '[sources.modelscope]\norgs = ["Qwen"]\n',
    )
    code, out = run_check(capsys, "--config", str(config))  # asserts PGSECRET0004 is absent
    assert code == 1
    assert line_of(out, "state.url") == (
        "warn  state.url: holds a literal password: use a ${NAME} placeholder or PGPASSWORD"
    )


def test_the_webhook_line_keeps_the_port_of_the_url(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = WELINK_URL.replace("open.welink.huaweicloud.com", "welink-gw.example.invalid:8443")
    assert ":8443" in gateway
    monkeypatch.setenv("WELINK_WEBHOOK_URL", gateway)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_GITHUBSECRET0002")
    code, out = run_check(capsys, "--config", str(V0_EXAMPLE))
    assert code == 0, out
    assert line_of(out, "notify.welink").endswith("parses (https://welink-gw.example.invalid:8443/…)")
