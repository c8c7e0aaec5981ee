"""Entry point of `mrt-tui`."""

from __future__ import annotations

import sys


def main() -> None:
    print("mrt-tui: the console is not built yet", file=sys.stderr)
    sys.exit(1)
