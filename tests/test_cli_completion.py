"""`mrt completion SHELL`: the printed script completes in a real shell."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _script(shell: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mrt", "completion", shell],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout


def _complete_in_bash(script: Path, line: str) -> list[str]:
    """What bash offers after `line`: the completion function `complete -p mrt` names, called as
    bash's programmable completion calls it (COMP_WORDS, COMP_CWORD, then $1 $2 $3)."""
    words = line.split(" ")
    program = f"""
source {script}
spec=$(complete -p mrt) || exit 7
func=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<<"$spec")
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}
"$func" mrt {words[-1]!r} {words[-2]!r}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_subcommands_and_options(tmp_path: Path) -> None:
    script = tmp_path / "mrt.bash"
    script.write_text(_script("bash"), encoding="utf-8")
    assert set(_complete_in_bash(script, "mrt ")) >= {"check", "db", "outbox", "completion"}
    assert _complete_in_bash(script, "mrt d") == ["db"]
    assert set(_complete_in_bash(script, "mrt db ")) == {
        "path", "migrate", "backup", "restore", "check", "prune"}
    assert _complete_in_bash(script, "mrt outbox --st") == ["--status"]
    assert _complete_in_bash(script, "mrt completion ") == ["bash", "zsh", "fish"]
    (tmp_path / "prod-config.toml").write_text("", encoding="utf-8")
    assert _complete_in_bash(script, f"mrt check --config {tmp_path}/prod-") == [
        f"{tmp_path}/prod-config.toml"]  # an option that takes a file completes file names


def test_zsh_and_fish_scripts_name_every_command() -> None:
    zsh, fish = _script("zsh"), _script("fish")
    assert zsh.startswith("#compdef mrt")
    assert "complete -c mrt -n '__fish_use_subcommand' -a outbox" in fish
    assert "-l status -x -a" in fish  # `mrt outbox --status` completes its choices
    for shell, text in (("zsh", zsh), ("fish", fish)):
        if shutil.which(shell):  # the shell's own parser accepts the script
            check = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True,
                                   timeout=30)
            assert check.returncode == 0, check.stderr


def test_unknown_shell_is_refused_with_the_choices() -> None:
    result = subprocess.run([sys.executable, "-m", "mrt", "completion", "tcsh"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "invalid choice: 'tcsh'" in result.stderr and "bash" in result.stderr
