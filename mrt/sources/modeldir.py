"""A local model directory: models and their files appearing, changing and going away.

Each configured path is one source instance (`modeldir:<path>`). A poll walks the tree with
`os.scandir` down to `max_depth`, symlinks not followed unless `follow_symlinks`. A model folder
is a directory holding a config.json or a weight file (*.safetensors, *.bin, *.gguf, *.pt, ...),
or any directory exactly `model_depth` levels below the root when that is set. A file belongs to
the nearest model folder above it. The snapshot keeps, per model, each file's size and mtime and,
for a small file (<= `hash_max_bytes`), its SHA-256: a large file is never read, its change is
its size or mtime. A directory or small file that cannot be read is quarantined with the reason;
the poll goes on and the entries it could not read keep their previous state. The source makes
no HTTP requests. `watch_paths` lets the daemon watch each path (inotify through `watchfiles`,
worker/watch.py): a change asks for the poll now; the poll's scan still makes every event.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from mrt.api import (
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceError,
    SourceSection,
    SourceSpec,
    TrackerEvent,
    format_time,
    parse_time,
)

DISPLAY_NAME = "Model directory"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("file", "File"), ("size", "Bytes"), ("previous_size", "Was"),
                         ("files", "Files"))}
EVENT_WORDS = {
    "model_added": "New model",
    "model_removed": "Model removed",
    "model_file_added": "Model file added",
    "model_file_changed": "Model file changed",
    "model_file_removed": "Model file removed",
}
MISSING_TOKEN_COST = "nothing: a model directory is read from the local disk"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt", ".onnx", ".h5")
MARKERS = ("config.json",)
RESOURCE = "tree"  # one snapshot per instance: the whole tree's models and files


class Config(SourceSection):
    """`sources.modeldir`: which directories to scan, how deep, and what is hashed."""

    paths: list[str] = Field(min_length=1)
    max_depth: int = Field(4, ge=1, le=32)  # directory levels below each path scanned
    model_depth: int | None = Field(None, ge=1, le=32)  # every directory at this depth is a model
    hash_max_bytes: int = Field(1024 * 1024, ge=0)  # files up to this size are hashed
    follow_symlinks: bool = False


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"modeldir:{path}", plugin="modeldir", section=name,
                   params={"path": path}, config=section)
        for path in section.paths
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: files modified after `when` are reported again."""
    return {"modified_after": format_time(when)}


def watch_paths(spec: SourceSpec) -> list[str]:
    """The daemon watches the instance's directory; a change there asks for its poll now."""
    return [str(spec.params["path"])]


def check_section(section: Config) -> list[str]:
    """`mrt check` warns (not errs) about a path that is not a directory: it may be mounted
    later; until then each poll of it fails, and only that instance."""
    return [f"{path}: {_missing(path)}: its polls fail until it exists"
            for path in section.paths if not Path(path).is_dir()]


def _missing(path: str) -> str:
    return "does not exist" if not os.path.lexists(path) else "is not a directory"


def read_hash(path: str) -> str:
    """SHA-256 of a small file (the only place the source reads file contents)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class Scan:
    """One walk of the tree: the files found per model, and what could not be read."""

    def __init__(self, spec: SourceSpec, config: Config) -> None:
        self.spec = spec
        self.config = config
        self.models: dict[str, dict[str, list[Any]]] = {}
        self.unread: set[str] = set()  # relative paths whose state is unknown this time
        self.quarantined: list[Quarantined] = []

    def keep_aside(self, rel: str, what: str, error: OSError) -> None:
        self.unread.add(rel)
        reason = error.strerror or type(error).__name__
        self.quarantined.append(Quarantined(
            item_key=f"path:{rel}"[:200],
            reason=f"{self.spec.key} {rel or '.'}: cannot read the {what}: {reason}",
            raw={"path": rel, "what": what, "error": reason}))

    def bad_name(self, rel: str, name: str) -> None:
        shown = _join(rel, name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        self.quarantined.append(Quarantined(
            item_key=f"path:{shown}"[:200],
            reason=f"{self.spec.key} {shown}: the name is not valid UTF-8: skipped",
            raw={"path": shown}))

    def walk(self, directory: str, rel: str, depth: int) -> None:
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            self.keep_aside(rel, "directory", exc)
            return
        follow = self.config.follow_symlinks
        files, dirs = [], []
        for entry in entries:
            if not _printable(entry.name):  # the database and the messages hold UTF-8 only
                self.bad_name(rel, entry.name)
                continue
            try:
                if entry.is_dir(follow_symlinks=follow):
                    dirs.append(entry)
                elif entry.is_file(follow_symlinks=follow):
                    files.append(entry)
            except OSError as exc:
                self.keep_aside(_join(rel, entry.name), "entry", exc)
        names = {e.name for e in files}
        is_model = bool(rel) and (
            any(n in names for n in MARKERS) or any(n.endswith(WEIGHT_SUFFIXES) for n in names)
            or self.config.model_depth == depth)
        if is_model:
            self.models.setdefault(rel, {})
        owner = self._owner(rel)
        if owner is not None:
            for entry in files:
                self._file(owner, entry, _join(rel, entry.name))
        if depth < self.config.max_depth:
            for entry in dirs:
                self.walk(entry.path, _join(rel, entry.name), depth + 1)

    def _owner(self, rel: str) -> str | None:
        parts = rel.split("/") if rel else []
        for i in range(len(parts), 0, -1):
            candidate = "/".join(parts[:i])
            if candidate in self.models:
                return candidate
        return None

    def _file(self, model: str, entry: os.DirEntry[str], rel: str) -> None:
        try:
            info = entry.stat(follow_symlinks=self.config.follow_symlinks)
        except OSError as exc:
            self.keep_aside(rel, "file", exc)
            return
        if not stat.S_ISREG(info.st_mode):
            return
        digest: str | None = None
        if info.st_size <= self.config.hash_max_bytes:
            try:
                digest = read_hash(entry.path)
            except OSError as exc:
                self.keep_aside(rel, "file", exc)
                return
        self.models[model][rel[len(model) + 1:]] = [info.st_size, info.st_mtime_ns, digest]


def _printable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    root = str(spec.params["path"])
    if not Path(root).is_dir():
        raise SourceError(f"{spec.key}: {root} {_missing(root)}")
    before = ctx.snapshots([RESOURCE]).get(RESOURCE) or {}
    known: dict[str, dict[str, list[Any]]] = before.get("models") or {}
    scan = Scan(spec, config)
    await asyncio.to_thread(scan.walk, root, "", 0)  # the disk, off the event loop
    # an entry that could not be read keeps its previous state: no removal is reported for it
    for model, files in known.items():
        for name, state in files.items():
            rel = f"{model}/{name}"
            if any(not u or rel == u or rel.startswith(u + "/") for u in scan.unread):
                scan.models.setdefault(model, {}).setdefault(name, state)
    fetched = sum(len(f) for f in scan.models.values())
    result = PollResult(snapshots={RESOURCE: {"models": scan.models}}, cursor={"scanned": True},
                        fetched=fetched, quarantined=scan.quarantined)
    if ctx.cursor is None:
        return result  # the silent baseline
    after = parse_time(ctx.cursor.get("modified_after") or ctx.cursor.get("reset_to"))
    if after is not None:  # after `mrt cursor reset --to`: what changed since then is news
        known = _before(known, scan.models, after)
    result.events = list(_diff(spec, root, known, scan.models, ctx.now))
    return result


def _before(known: dict[str, dict[str, list[Any]]], now: dict[str, dict[str, list[Any]]],
            after: datetime) -> dict[str, dict[str, list[Any]]]:
    """The old snapshot without the files now on disk that were modified after `after`."""
    limit = int(after.timestamp() * 1e9)
    kept: dict[str, dict[str, list[Any]]] = {}
    for model, files in known.items():
        current = now.get(model, {})
        left = {n: s for n, s in files.items()
                if not (n in current and current[n][1] > limit)}
        if left:
            kept[model] = left
    return kept


def _diff(spec: SourceSpec, root: str, old: dict[str, dict[str, list[Any]]],
          new: dict[str, dict[str, list[Any]]], now: datetime) -> list[TrackerEvent]:
    events: list[TrackerEvent] = []
    for model in sorted(new):
        files = new[model]
        if model not in old:
            newest = max((s[1] for s in files.values()), default=0)
            events.append(_event(spec, root, model, None, "model_added", f"{model}:{newest}",
                                 now, {"files": len(files),
                                       "bytes": sum(s[0] for s in files.values())}, newest))
            continue
        was = old[model]
        for name in sorted(files):
            state, prior = files[name], was.get(name)
            if prior is None:
                events.append(_file_event(spec, root, model, name, state, "model_file_added", now))
            elif _changed(prior, state):
                events.append(_file_event(spec, root, model, name, state, "model_file_changed",
                                          now, prior))
        for name in sorted(set(was) - set(files)):
            events.append(_file_event(spec, root, model, name, was[name], "model_file_removed",
                                      now))
    for model in sorted(set(old) - set(new)):
        events.append(_event(spec, root, model, None, "model_removed",
                             f"{model}:removed:{format_time(now)}", now,
                             {"files": len(old[model])}, None))
    return events


def _changed(prior: list[Any], state: list[Any]) -> bool:
    if state[2] is not None and prior[2] is not None:
        return bool(state[2] != prior[2] or state[0] != prior[0])  # small: its content decides
    return bool(state[0] != prior[0] or state[1] != prior[1])  # large: size and mtime


def _file_event(spec: SourceSpec, root: str, model: str, name: str, state: list[Any], kind: str,
                now: datetime, prior: list[Any] | None = None) -> TrackerEvent:
    size, mtime, digest = state
    tail = f"removed:{format_time(now)}" if kind == "model_file_removed" else (
        f"{size}:{mtime}:{digest or ''}")
    details: dict[str, Any] = {"file": name, "size": size, "sha256": digest,
                               "modified": format_time(_time(mtime))}
    if prior is not None:
        details.update(previous_size=prior[0], previous_sha256=prior[2])
    return _event(spec, root, model, name, kind, f"{model}/{name}:{tail}", now, details,
                  None if kind == "model_file_removed" else mtime)


def _event(spec: SourceSpec, root: str, model: str, name: str | None, kind: str, event_id: str,
           now: datetime, details: dict[str, Any], mtime: int | None) -> TrackerEvent:
    words = {"model_added": "added", "model_removed": "removed", "model_file_added": "added",
             "model_file_changed": "changed", "model_file_removed": "removed"}[kind]
    subject = f"{model}/{name}" if name else model
    path = os.path.join(root, subject)
    return TrackerEvent(
        source="modeldir",
        source_key=spec.key,
        resource_type="model",
        resource_id=model,
        event_type=kind,
        event_id=event_id,
        title=f"{subject} {words}",
        summary=path,
        url=Path(path).absolute().as_uri(),
        occurred_at=_time(mtime) if mtime else None,
        observed_at=now,
        details={"model": model, "path": path, **details},
        raw={"model": model, "file": name},
    )


def _time(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
