"""`mrt init` writes a starter that loads; the committed JSON Schema is the generated one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.commands.init import STARTER_TOML
from mrt.config import load_config
from mrt.config.schema import builtin_source_plugins, config_json_schema_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "share" / "mrt-config.schema.json"


@pytest.fixture
def xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("MRT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cfg" / "mrt" / "config.toml"


def test_init_writes_a_starter_that_loads_and_is_found(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {xdg}\nnext steps:")
    assert "mrt check" in out
    assert xdg.read_text() == STARTER_TOML
    config = load_config()  # discovery finds it in the user config directory
    assert config.source_path == xdg
    assert list(config.sources) == ["github", "huggingface", "modelscope"]
    assert config.watch_keyword_terms() == ["deepseek", "qwen"]  # the rule they became


def test_init_refuses_to_overwrite_without_force(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xdg.parent.mkdir(parents=True)
    xdg.write_text("# my precious config\n")
    assert main(["init"]) == 1
    assert "already exists; use --force" in capsys.readouterr().out
    assert xdg.read_text() == "# my precious config\n"
    assert main(["init", "--force"]) == 0
    assert xdg.read_text() == STARTER_TOML


def test_init_writes_where_config_points(tmp_path: Path, xdg: Path) -> None:
    target = tmp_path / "elsewhere" / "mrt.toml"
    assert main(["init", "--config", str(target)]) == 0
    assert target.read_text() == STARTER_TOML
    assert not xdg.exists()


def test_the_shipped_starter_is_the_one_init_writes() -> None:
    shipped = ROOT / "share" / "examples" / "starter-config.toml"
    assert shipped.read_text() == STARTER_TOML


def test_committed_schema_is_the_generated_one() -> None:
    # regenerate with: mrt config schema > share/mrt-config.schema.json
    assert SCHEMA_FILE.read_text() == config_json_schema_text(builtin_source_plugins())


def test_schema_describes_each_builtin_source_section() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    sources = schema["properties"]["sources"]["properties"]
    assert {"arxiv", "feed", "ghsa", "github", "huggingface", "modelscope", "npm", "osv", "pypi"} <= set(
        sources
    )
    assert schema["$defs"]["osv_section"]["required"] == ["packages"]
    github = schema["$defs"]["github_section"]
    assert github["required"] == ["repos"]
    assert {"repos", "monitor", "token_env", "cron", "base_url"} <= set(github["properties"])
    assert github["additionalProperties"] is False
    assert "source_path" not in schema["properties"]


def test_config_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["properties"]["sources"]["properties"].keys() >= {"github", "huggingface"}
    assert printed["$defs"]["WeLinkV0"]["properties"]["at_accounts"]["maxItems"] == 10


def test_config_show_prints_the_effective_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[sources.github]\nrepos = ["a/b"]\n[channels.team]\n'
        'urls = ["slack://T1/B2/LITERAL", "json://h/${HOOK}"]\n'
        '[state]\nurl = "postgresql://mrt:LITERALPW@db/mrt"\n'
    )
    assert main(["config", "show", "--config", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["poll_interval_seconds"] == 300
    assert shown["sources"]["github"]["type"] == "github"
    assert shown["sources"]["github"]["monitor"] == {
        "issues": True, "pulls": True, "releases": False, "tags": False}
    assert shown["channels"]["team"]["urls"] == ["slack://…", "json://h/${HOOK}"]
    assert shown["state"]["url"] == "postgresql://mrt:***@db/mrt"


def test_the_starters_commented_sources_load_when_uncommented(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mrt init` offers every built-in source commented out; each, uncommented as a user would,
    must pass `mrt check` (the loader with rules compiled), so the offer never teaches a wrong
    key."""
    start, end = STARTER_TOML.index("# More upstreams"), STARTER_TOML.index("# Alerts are printed")
    offered = [
        line[2:]
        for line in STARTER_TOML[start:end].splitlines()
        if line.startswith("# [sources.") or (line[2:3].isalpha() and " = " in line)
    ]
    text = STARTER_TOML[:start] + "\n".join(offered) + "\n\n" + STARTER_TOML[end:]
    text = text.replace(
        "monitor = { issues = true, pulls = true }",
        "monitor = { issues = true, pulls = true, releases = true, tags = true }",
    )
    path = tmp_path / "uncommented.toml"
    path.write_text(text, encoding="utf-8")
    sections = {line[len("[sources.") : -1] for line in offered if line.startswith("[sources.")}
    assert sections >= {"pypi", "npm", "feed", "arxiv", "osv", "ghsa", "gitlab", "modeldir", "oci"}
    assert main(["check", "--config", str(path)]) == 0, capsys.readouterr().out
    assert sections <= set(load_config(path).sources)
