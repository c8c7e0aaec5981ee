"""`mrt completion bash|zsh|fish`: print a shell completion script for `mrt`.

The script is generated from the same argparse parser `mrt` runs (shtab), so a new command or
option completes as soon as it exists. Options that take a file (--config, --db, --backup-dir,
DEST ...) complete file names. Install lines are in README.md ("Shell completion").
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import shtab

SHELLS = ("bash", "zsh", "fish")
# metavars that name a file or a directory: shtab completes paths for them
_PATH_METAVARS = {"FILE", "PATH", "PATH_OR_URL", "DEST", "DIR"}


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "completion",
        parents=[common],
        help="print a shell completion script (bash, zsh or fish)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(func=run_completion)


def run_completion(args: argparse.Namespace) -> int:
    from mrt.cli import build_parser  # the parser being completed; mrt.cli imports this module

    print(completion_script(build_parser(), args.shell), end="")
    return 0


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    if shell == "fish":
        return fish_script(parser)
    for action in _actions(parser):
        if isinstance(action.metavar, str) and action.metavar in _PATH_METAVARS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    return shtab.complete(parser, shell=shell)


def fish_script(parser: argparse.ArgumentParser) -> str:
    """shtab writes bash, zsh and tcsh; fish's `complete` lines are simple enough to write here:
    subcommands after their parent, long options of each command, choices where there are."""
    prog = parser.prog
    lines = [f"# fish completion for {prog}, generated from its argparse parser", f"complete -c {prog} -f"]
    for path, sub in _commands(parser, ()):
        names = _subcommands(sub)
        if not path:
            cond = "__fish_use_subcommand"
        else:
            seen = " ".join(path)
            cond = f"__fish_seen_subcommand_from {path[-1]}; and not __fish_seen_subcommand_from {' '.join(names) or seen}"
        for name, helptext in names.items():
            lines.append(f"complete -c {prog} -n '{cond}' -a {name} -d {_fish_quote(helptext)}")
        opt_cond = f"__fish_seen_subcommand_from {path[-1]}" if path else "__fish_use_subcommand"
        for action in sub._actions:
            longs = [o[2:] for o in action.option_strings if o.startswith("--")]
            if not longs or isinstance(action, argparse._SubParsersAction):
                continue
            line = f"complete -c {prog} -n '{opt_cond}' -l {longs[0]}"
            if action.choices:
                line += " -x -a " + _fish_quote(" ".join(str(c) for c in action.choices))
            elif isinstance(action.metavar, str) and action.metavar in _PATH_METAVARS:
                line += " -r -F"
            elif action.nargs != 0:
                line += " -r"
            if action.help and action.help != argparse.SUPPRESS:
                line += " -d " + _fish_quote(action.help)
            lines.append(line)
    return "\n".join(lines) + "\n"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, str]:
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found.update({name: helps.get(name, "") for name in action.choices})
    return found


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for _, sub in _commands(parser, ()):
        yield from sub._actions
