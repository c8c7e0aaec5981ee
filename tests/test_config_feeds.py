"""`mrt check` on feed and arXiv sections: a good config lists both sources; a bad one names the
file, the field, what was found and what was expected, without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrt.cli import main


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No config, token or home of the runner's leaks into `mrt check`."""
    for name in ("MRT_CONFIG", "WELINK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)

GOOD = """version = 1
[sources.feed]
feeds = [{ url = "https://github.com/vllm-project/vllm/releases.atom", name = "vllm" }]
[sources.arxiv]
queries = ['cat:cs.CL AND abs:"mixture of experts"']
categories = ["cs.CL"]
"""


def test_check_lists_the_feed_and_arxiv_sources(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 0
    assert "ok    sources: feed, arxiv\n" in capsys.readouterr().out


@pytest.mark.parametrize("section, fragments", [
    ('[sources.feed]\nfeeds = [{ url = "ftp://example.org/x.xml" }]\n',
     ["sources.feed.feeds[0].url", "^https?://"]),
    ('[sources.feed]\nfeeds = [{ url = "https://a.example/f.xml", nme = "x" }]\n',
     ["sources.feed.feeds[0].nme", "did you mean 'name'"]),
    ("[sources.feed]\nfeeds = []\n", ["sources.feed.feeds", "at least 1"]),
    ("[sources.arxiv]\ninterval_seconds = 3600\n",
     ["sources.arxiv", "expected `queries`", "found neither"]),
])
def test_a_bad_section_is_named_with_what_was_expected(
    section: str, fragments: list[str], tmp_path: Path, clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("version = 1\n" + section, encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mrt: {path}: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
