"""The fenced blocks of README.md and docs/*.md, classified for tests/test_docs_executable.py.

No tests live here. A block is one of:

- `config`: a json/toml/yaml block with no marker, a complete config: `mrt check` must accept it;
- `shell`: a bash/sh block with no marker: each line is a command; the safe ones are run;
- `output`: a block after `<!-- doc-test: output-of CMD; PATH from SRC; exit N -->`: what CMD
  prints, compared modulo times, ids and lines the sample cuts short with `...`;
- `partial`: after `<!-- doc-test: partial -->`: a fragment, only its syntax is checked;
- `data`: after `<!-- doc-test: data (what) -->`: a json/yaml document that is no config (a
  command's output, a vendor's message): it must parse, and is never read as a config;
- `skip`: after `<!-- doc-test: skip (why) -->`: not checkable here, and the marker says why.

Anything else is refused, so a new block can never go unchecked. The marker must be the line
right before the opening fence.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mrt.config import EnvRequirement

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

CONFIG_LANGS = ("json", "toml", "yaml")
SHELL_LANGS = ("bash", "sh", "shell")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")

# Programs a doc shows that a test must not run: they install, touch the system or the session.
NOT_RUN = {
    "pipx": "installs into the user's environment",
    "pip": "installs packages",
    "python3": "creates environments / installs (test_e2e_default.py runs the set-up)",
    "systemctl": "talks to the user's systemd",
    "loginctl": "changes the user's session",
    "bash": "runs the whole CI (.ci/run)",
}
RUN = ("mrt",)  # run in-process through mrt.cli.main, the `mrt` entry point


@dataclass(frozen=True)
class Block:
    file: str  # relative to the repository root
    line: int  # the opening fence's line, 1-based
    lang: str
    body: str
    marker: str | None  # the marker's text after "doc-test:", if any

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def kind(self) -> str:
        if self.marker is None:
            if self.lang in CONFIG_LANGS:
                return "config"
            if self.lang in SHELL_LANGS:
                return "shell"
            return "unclassified"
        if self.marker == "partial":
            return "partial"
        if re.fullmatch(r"skip \(.+\)", self.marker):
            return "skip"
        if re.fullmatch(r"data \(.+\)", self.marker) and self.lang in ("json", "yaml"):
            return "data"
        if self.marker.startswith("output-of "):
            return "output"
        return "unclassified"


def read_blocks(files: list[Path] | None = None) -> list[Block]:
    blocks: list[Block] = []
    for path in DOC_FILES if files is None else files:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            opened = FENCE.match(lines[i])
            if not opened:
                i += 1
                continue
            end = i + 1
            while end < len(lines) and not lines[end].startswith(opened["fence"]):
                end += 1
            marker = MARKER.match(lines[i - 1]) if i else None
            blocks.append(
                Block(
                    file=str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                    line=i + 1,
                    lang=opened["lang"].lower(),
                    body="\n".join(lines[i + 1 : end]) + "\n",
                    marker=marker["body"] if marker else None,
                )
            )
            i = end + 1
    return blocks


def parse_config(block: Block) -> dict[str, Any]:
    """The block as data; a syntax error names the block."""
    try:
        if block.lang == "json":
            data = json.loads(block.body)
        elif block.lang == "toml":
            data = tomllib.loads(block.body)
        else:
            data = yaml.safe_load(block.body)
    except (ValueError, yaml.YAMLError) as exc:
        raise AssertionError(
            f"{block.where}: the {block.lang} block does not parse: {exc}"
        ) from exc
    assert isinstance(data, dict), f"{block.where}: expected a mapping, found {type(data)}"
    return data


# --- shell blocks ----------------------------------------------------------------------------


@dataclass
class ShellLine:
    line: int  # in the doc
    text: str  # as written (continuations joined)
    argv: list[str] = field(default_factory=list)  # what runs ([] when not run)
    expect: int = 0
    not_run: str = ""  # why it is not run


def shell_lines(block: Block) -> list[ShellLine]:
    """Each command of the block: `mrt ...` to run (with its documented exit code, `# exit N`
    in its comment, else 0), or a known program that is not run. An unknown program fails."""
    result: list[ShellLine] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(block.body.splitlines()):
        if not pending:
            start = block.line + 1 + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        text = (pending + raw).strip()
        pending = ""
        if not text or text.startswith("#"):
            continue
        result.append(_shell_line(block, start, text))
    return result


def _shell_line(block: Block, line: int, text: str) -> ShellLine:
    where = f"{block.file}:{line}"
    try:
        words = shlex.split(text, comments=True)
    except ValueError as exc:
        raise AssertionError(f"{where}: the shell line does not parse ({exc}): {text}") from exc
    comment = text[len(text.split("#", 1)[0]) :] if " #" in text else ""
    code = re.search(r"\bexit (\d+)", comment)
    item = ShellLine(line, text, expect=int(code[1]) if code else 0)
    programs = [words[0]] + [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("&&", ";")]
    programs = [Path(p).name for p in programs]
    unknown = [p for p in programs if p not in NOT_RUN and p not in RUN]
    assert not unknown, (
        f"{where}: `{unknown[0]}` is neither a command the docs test runs ({', '.join(RUN)}) nor "
        f"one it knows not to run ({', '.join(NOT_RUN)}): {text}"
    )
    stopped = [p for p in programs if p in NOT_RUN]
    if stopped:
        item.not_run = f"{stopped[0]}: {NOT_RUN[stopped[0]]}"
        return item
    # A synopsis line (`mrt silence list [--all] [--json]`) runs with every optional part.
    item.argv = [w.strip("[]") for w in words[1:] if w.strip("[]")]
    return item


# --- output samples --------------------------------------------------------------------------


@dataclass
class OutputSpec:
    argv: list[str]  # after the program name
    files: dict[str, str]  # documented path (~/..., /etc/...) -> repository file to put there
    expect: int | None


def output_spec(block: Block) -> OutputSpec:
    assert block.marker is not None
    command, *clauses = [c.strip() for c in block.marker.removeprefix("output-of ").split(";")]
    words = shlex.split(command)
    assert words[:1] == ["mrt"], f"{block.where}: output-of runs `mrt ...`, found {command!r}"
    files: dict[str, str] = {}
    expect: int | None = None
    for clause in clauses:
        if m := re.fullmatch(r"exit (\d+)", clause):
            expect = int(m[1])
        elif m := re.fullmatch(r"(\S+) from (\S+)", clause):
            assert (ROOT / m[2]).is_file(), f"{block.where}: {m[2]} does not exist"
            files[m[1]] = m[2]
        else:
            raise AssertionError(f"{block.where}: unknown output-of clause {clause!r}")
    return OutputSpec(words[1:], files, expect)


_TIME = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?")
_ID = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,64}\b")


def normalise(text: str) -> list[str]:
    text = _ID.sub("<id>", _TIME.sub("<time>", text))
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def output_differences(block: Block, actual: str) -> list[str]:
    """What differs, one line each naming the doc line; [] when the sample matches.

    A sample line that ends with `...` (or `…`) matches any line that starts with what is
    before it: the doc may cut a long message short.
    """
    want, got = normalise(block.body), normalise(actual)
    problems: list[str] = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w is not None and g is not None:
            cut = w.endswith(("...", "…"))
            prefix = w.rstrip(".…").rstrip()
            if g.startswith(prefix) if cut else g == w:
                continue
        line = f"{block.file}:{block.line + 1 + min(i, len(want))}"
        problems.append(f"{line}: the doc shows {w!r}, the command printed {g!r}")
    return problems


# --- dummy secrets -----------------------------------------------------------------------------

WELINK_URL = (
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=doc&channel=standard"
)


def dummy_value(req: EnvRequirement) -> str:
    """A value of the kind the variable holds, so that `mrt check` can parse what uses it."""
    if req.field.endswith("webhook_env"):
        return WELINK_URL
    if ".url_env" in req.field:
        return "json://127.0.0.1:9/doc-hook"
    if req.field.endswith("user_env"):
        return "mrt@example.com"
    if "SLACK" in req.name:
        return "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"  # Slack's token triple
    return "doc0dummy0value"
