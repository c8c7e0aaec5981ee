"""`python -m mrt`: v0's way of running (`--config FILE --once|--daemon`) and the `mrt` CLI.

v0 users run `python -m mrt --config FILE --once` from cron. Those flags hand over to the worker
process (`mrt-worker`), which the core library does not import: the process is replaced, so the
exit code and signals are the worker's own.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    # v0's form starts with options (`--config FILE --once`); `mrt run --once` is a subcommand
    v0_form = bool(argv) and argv[0].startswith("-")
    if v0_form and ("--once" in argv or "--daemon" in argv):
        args = [a for a in argv if a != "--daemon"]
        os.execv(sys.executable, [sys.executable, "-m", "worker", *args])
    from mrt.cli import run

    run(argv)


if __name__ == "__main__":
    main()
