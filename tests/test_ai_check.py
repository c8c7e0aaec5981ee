"""`mrt check` says whether AI is on, and which endpoint and models it would use, without the key;
with AI on, the worker's config loads without the "nothing is sent" warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrt.cli import main as mrt_main

KEY = "sk-check-0123456789abcdef"
BASE = 'version = 1\n[sources.github]\nrepos = ["vllm-project/vllm"]\n'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MRT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(home: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = home / "mrt.toml"
    path.write_text(text, encoding="utf-8")
    code = mrt_main(["check", "--config", str(path)])
    return code, capsys.readouterr().out


def test_check_says_ai_is_on_with_its_endpoint_and_models_but_not_the_key(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MRT_AI_KEY", KEY)
    code, out = check(home, BASE + (
        '[ai]\nenabled = true\nprovider = "vllm"\nbase_url = "http://127.0.0.1:8000/v1"\n'
        'model = "Qwen/Qwen3-8B"\nembedding_model = "BAAI/bge-m3"\napi_key_env = "MRT_AI_KEY"\n'
        "summary_wait_seconds = 45\n"
    ), capsys)

    assert code == 0, out
    assert (
        "ok    ai: on: chat model Qwen/Qwen3-8B at http://127.0.0.1:8000/v1, embedding model "
        "BAAI/bge-m3; key from $MRT_AI_KEY; 60 requests a minute, 20 s timeout; summaries (a "
        "message waits at most 45 s for one)"
    ) in out
    assert "ok    env MRT_AI_KEY: set (ai.api_key_env)" in out
    # only about: conditions use embeddings, and there is none: a key that does nothing is said
    assert (
        "warn  ai.embedding_model: found 'BAAI/bge-m3'; accepted but not acted on: only "
        "`about:` rule conditions use embeddings, and no rule has one"
    ) in out
    assert KEY not in out and "nothing is sent to a model" not in out


def test_check_says_ai_is_off_when_the_file_turns_it_off(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(home, BASE + "[ai]\nenabled = false\n", capsys)

    assert code == 0
    assert "ok    ai: off (ai.enabled is false): nothing is sent to a model" in out


def test_a_file_without_ai_gets_no_ai_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(home, BASE, capsys)

    assert code == 0 and "ai:" not in out


def test_a_bad_ai_value_names_the_field(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "mrt.toml"
    path.write_text(BASE + '[ai]\nenabled = true\nbase_url = "ftp://x"\nmodel = "m"\n'
                    "summary_wait_seconds = -1\n", encoding="utf-8")

    code = mrt_main(["check", "--config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "ai.base_url" in err and "an http:// or https:// URL" in err
    assert "ai.summary_wait_seconds" in err
    assert "Traceback" not in err
