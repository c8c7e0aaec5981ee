"""mrt/errors.py draws the error tree in its docstring; the drawing must stay true.

Read from the source (no imports): every MrtError subclass MRT defines is drawn under its real
parent, and every drawn error is one MRT actually raises (constructed somewhere outside
mrt/errors.py) or the parent of one that is. A class nothing raises is dead and goes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mrt.errors

ROOT = Path(mrt.errors.__file__).parent
BRANCH = re.compile(r"^(?P<lead>[ │]*)[├└]── (?P<name>\w+)")


def drawn_tree() -> dict[str, str]:
    """{class: parent} as the docstring draws it."""
    doc = ast.get_docstring(ast.parse((ROOT / "errors.py").read_text())) or ""
    parents: dict[str, str] = {}
    stack = ["MrtError"]
    lines = doc.splitlines()
    root = next(line for line in lines if line.strip().startswith("MrtError("))
    indent = len(root) - len(root.lstrip())
    for line in lines:
        match = BRANCH.match(line)
        if match is None:
            continue
        depth = (len(match["lead"]) - indent) // 4
        del stack[depth + 1 :]
        parents[match["name"]] = stack[depth]
        stack.append(match["name"])
    return parents


def product_modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(ROOT.rglob("*.py"))]


def defined_tree(modules: list[tuple[Path, ast.Module]]) -> dict[str, str]:
    """{class: parent} for every class that descends from MrtError."""
    bases: dict[str, str] = {}
    for _, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.bases:
                base = node.bases[0]
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                bases[node.name] = name
    errors: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for cls, base in bases.items():
            if cls not in errors and (base == "MrtError" or base in errors):
                errors[cls] = base
                changed = True
    return errors


def constructed(modules: list[tuple[Path, ast.Module]]) -> set[str]:
    names: set[str] = set()
    for path, tree in modules:
        if path == ROOT / "errors.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def test_the_docstring_draws_every_error_under_its_real_parent() -> None:
    assert drawn_tree() == defined_tree(product_modules())


def test_every_drawn_error_is_raised_somewhere() -> None:
    modules = product_modules()
    tree = defined_tree(modules)
    used = constructed(modules)
    live = {cls for cls in tree if cls in used}
    live |= {tree[cls] for cls in live}  # a parent of a raised error is caught as such
    assert sorted(set(tree) - live) == []
