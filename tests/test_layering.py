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


# What the store (the floor) must never load, directly or through anything it imports.
ABOVE_THE_STORE = (
    "mrt.delivery",
    "mrt.rules",
    "mrt.pipeline",
    "mrt.noise",
    "mrt.replay",
    "mrt.ops",
    "mrt.commands",
    "mrt.alerting",
    "mrt.sources",
)


def test_the_store_imports_nothing_above_the_core_types() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "import mrt.store\n"
        "names = [m.name for m in pkgutil.walk_packages(mrt.store.__path__, 'mrt.store.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        f"above = {ABOVE_THE_STORE!r}\n"
        "bad = sorted(m for m in sys.modules if m in above or m.startswith(tuple(a + '.' for a in above)))\n"
        "print(len(names), bad)\n"
        "sys.exit(1 if bad or len(names) < 20 else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
