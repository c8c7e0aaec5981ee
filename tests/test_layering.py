"""The headless parts never import textual (also enforced by import-linter in CI)."""

import subprocess
import sys


def test_worker_and_core_import_without_textual() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "import mrt, worker, mrt.cli, worker.main\n"
        "for pkg in (mrt, worker):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "mrt.cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'tui')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
