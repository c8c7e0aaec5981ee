"""The local model directory source on real temporary directories: a silent baseline, a new model
folder, files added, changed and removed, a large file whose change is seen by size and mtime
without reading it, an unreadable subdirectory quarantined (the poll goes on), the depth limit,
and `mrt cursor reset --to` reporting the files modified after the date."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_source_support import FakeClock, SourceState, make_pool, poll_once, run, spec_for

from mrt.errors import SourceError
from mrt.sources import modeldir

NS = 1_000_000_000


def section(*paths: Path, **kw: Any) -> modeldir.Config:
    return modeldir.Config(paths=[str(p) for p in paths], **kw)


def write(path: Path, data: bytes, mtime: int = 1_700_000_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime * NS, mtime * NS))


def poll(spec: Any, state: SourceState) -> Any:
    async def go() -> Any:
        async with make_pool(FakeClock()) as pool:
            result, _ = await poll_once(modeldir, spec, pool, state)
            return result

    return run(go)


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.title) for e in result.events]


def unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make `path` unreadable: chmod for a normal user; as root (who reads anything) the
    PermissionError os.scandir would raise is raised for that one path."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    real = os.scandir

    def scandir(target: Any) -> Any:
        if Path(target) == path:
            raise PermissionError(13, "Permission denied", str(path))
        return real(target)

    monkeypatch.setattr(modeldir.os, "scandir", scandir)


def test_baseline_then_model_added_file_added_changed_removed_and_model_removed(
        tmp_path: Path) -> None:
    write(tmp_path / "qwen/config.json", b'{"a": 1}')
    write(tmp_path / "qwen/model.safetensors", b"x" * 10)
    write(tmp_path / "notes/readme.txt", b"not a model")  # no marker: not a model
    spec = spec_for(modeldir, section(tmp_path))
    assert spec.key == f"modeldir:{tmp_path}"
    state = SourceState()

    base = poll(spec, state)
    assert base.events == [] and base.fetched == 2
    files = state.snapshots["tree"]["models"]["qwen"]
    assert files["model.safetensors"][:2] == [10, 1_700_000_000 * NS]

    write(tmp_path / "llama/gguf/llama.gguf", b"w" * 5)  # a new model folder, one level down
    write(tmp_path / "qwen/tokenizer.json", b"{}")
    write(tmp_path / "qwen/config.json", b'{"a": 2}')  # same size, same mtime: the hash says
    second = poll(spec, state)
    assert kinds(second) == [("model_added", "llama/gguf added"),
                             ("model_file_changed", "qwen/config.json changed"),
                             ("model_file_added", "qwen/tokenizer.json added")]
    added = second.events[0]
    assert added.details["files"] == 1 and added.url.startswith("file://")

    assert poll(spec, state).events == []  # no repeat

    os.utime(tmp_path / "qwen/config.json", ns=(1_800_000_000 * NS,) * 2)  # touched, same bytes
    assert poll(spec, state).events == []

    (tmp_path / "qwen/tokenizer.json").unlink()
    (tmp_path / "llama/gguf/llama.gguf").unlink()
    removed = poll(spec, state)
    assert kinds(removed) == [("model_file_removed", "qwen/tokenizer.json removed"),
                              ("model_removed", "llama/gguf removed")]


def test_a_large_file_is_never_read_its_size_and_mtime_tell_the_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "m/model.bin"
    write(big, b"a" * 2048)
    write(tmp_path / "m/config.json", b"{}")
    spec = spec_for(modeldir, section(tmp_path, hash_max_bytes=1024))
    state = SourceState()
    reads: list[str] = []
    real = modeldir.read_hash
    monkeypatch.setattr(modeldir, "read_hash", lambda p: reads.append(p) or real(p))

    poll(spec, state)
    assert state.snapshots["tree"]["models"]["m"]["model.bin"][2] is None  # no hash kept
    write(big, b"b" * 4096, mtime=1_700_000_100)
    if os.geteuid() != 0:
        big.chmod(0)  # the proof for a normal user: reading it would fail
    changed = poll(spec, state)
    assert kinds(changed) == [("model_file_changed", "m/model.bin changed")]
    assert changed.events[0].details["size"] == 4096
    assert changed.events[0].details["previous_size"] == 2048
    assert changed.quarantined == []
    assert not any(r.endswith("model.bin") for r in reads)  # only config.json was hashed
    assert reads and all(r.endswith("config.json") for r in reads)


def test_an_unreadable_subdirectory_is_quarantined_and_the_rest_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a/config.json", b"{}")
    write(tmp_path / "b/w.pt", b"1")
    spec = spec_for(modeldir, section(tmp_path))
    state = SourceState()
    poll(spec, state)
    write(tmp_path / "c/model.gguf", b"2")
    unreadable(monkeypatch, tmp_path / "b")
    try:
        result = poll(spec, state)
    finally:
        (tmp_path / "b").chmod(0o755)
    assert kinds(result) == [("model_added", "c added")]  # b is not reported removed
    (bad,) = result.quarantined
    assert bad.item_key == "path:b"
    assert bad.reason == f"modeldir:{tmp_path} b: cannot read the directory: Permission denied"
    assert "w.pt" in state.snapshots["tree"]["models"]["b"]  # its last known state is kept


def test_depth_limit_and_model_depth(tmp_path: Path) -> None:
    write(tmp_path / "org/team/deep/model.safetensors", b"x")
    write(tmp_path / "org/shallow/config.json", b"{}")
    write(tmp_path / "vendor/plain/README.md", b"no marker")
    state = SourceState()
    poll(spec_for(modeldir, section(tmp_path, max_depth=2)), state)
    assert sorted(state.snapshots["tree"]["models"]) == ["org/shallow"]  # deep is 3 levels down

    state = SourceState()
    poll(spec_for(modeldir, section(tmp_path, max_depth=3, model_depth=2)), state)
    models = state.snapshots["tree"]["models"]
    assert sorted(models) == ["org/shallow", "org/team", "org/team/deep", "vendor/plain"]
    # a file belongs to its nearest model folder
    assert models["org/team"] == {} and list(models["org/team/deep"]) == ["model.safetensors"]
    assert list(models["vendor/plain"]) == ["README.md"]


def test_symlinks_are_not_followed_by_default(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere/m/config.json", b"{}")
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(tmp_path / "elsewhere/m")
    state = SourceState()
    poll(spec_for(modeldir, section(root)), state)
    assert state.snapshots["tree"]["models"] == {}
    state = SourceState()
    poll(spec_for(modeldir, section(root, follow_symlinks=True)), state)
    assert list(state.snapshots["tree"]["models"]) == ["linked"]


def test_cursor_reset_reports_the_files_modified_after_the_date(tmp_path: Path) -> None:
    write(tmp_path / "old/config.json", b"{}", mtime=1_600_000_000)
    write(tmp_path / "new/config.json", b"{}", mtime=1_700_000_000)
    write(tmp_path / "mixed/config.json", b"{}", mtime=1_600_000_000)
    write(tmp_path / "mixed/w.bin", b"1", mtime=1_700_000_000)
    spec = spec_for(modeldir, section(tmp_path))
    state = SourceState()
    poll(spec, state)
    when = datetime.fromtimestamp(1_650_000_000, tz=UTC)
    state.cursor = {**modeldir.cursor_since(when), "reset_to": "2022-04-15T05:20:00Z"}
    again = poll(spec, state)
    assert kinds(again) == [("model_file_added", "mixed/w.bin added"),
                            ("model_added", "new added")]
    assert poll(spec, state).events == []


def test_a_missing_path_fails_that_poll_with_a_clear_error(tmp_path: Path) -> None:
    spec = spec_for(modeldir, section(tmp_path / "absent"))
    with pytest.raises(SourceError, match=r"absent does not exist"):
        poll(spec, SourceState())


def test_a_file_name_that_is_not_utf8_is_quarantined_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path / "m/config.json", b"{}")
    spec = spec_for(modeldir, section(tmp_path))
    state = SourceState()
    poll(spec, state)
    with open(os.path.join(os.fsencode(tmp_path / "m"), b"bad\xff.bin"), "wb") as handle:
        handle.write(b"1")
    write(tmp_path / "m/good.bin", b"2")
    result = poll(spec, state)
    assert kinds(result) == [("model_file_added", "m/good.bin added")]
    (bad,) = result.quarantined
    assert bad.reason == f"modeldir:{tmp_path} m/bad\ufffd.bin: the name is not valid UTF-8: skipped"
    json.dumps(state.snapshots, ensure_ascii=False).encode("utf-8")  # storable as UTF-8
