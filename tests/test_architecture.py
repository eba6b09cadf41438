"""ARCHITECTURE.md stays true: every module has its row, and imports only run upwards."""

from __future__ import annotations

import ast
import re

from .conftest import ROOT

#: documented exceptions to "imports run upwards" (none left at the top level)
UPWARD: set = set()  # the checks subpackage loads its content on first use, inside itself


def table_order() -> list[str]:
    """The modules of ARCHITECTURE.md's table, top to bottom."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    rows = [line.split("|")[2] for line in text.splitlines()
            if line.startswith("| ") and line.count("|") >= 4]
    return [name for cell in rows for name in re.findall(r"`([A-Za-z_]\w*)`", cell)]


def package_modules() -> set[str]:
    pkg = ROOT / "facelab"
    return ({p.stem for p in pkg.glob("*.py") if p.stem != "__init__"}
            | {p.name for p in pkg.iterdir() if (p / "__init__.py").is_file()})


def imports_of(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("facelab."):
            found.add(node.module.split(".")[1])
    return found


def test_every_module_has_a_row():
    order = table_order()
    assert len(order) == len(set(order)), "a module is listed twice"
    missing = package_modules() - set(order)
    assert not missing, f"add a row to ARCHITECTURE.md for: {sorted(missing)}"
    assert not set(order) - package_modules(), "ARCHITECTURE.md lists a module that is gone"


def test_modules_import_only_those_above_them():
    rank = {name: i for i, name in enumerate(table_order())}
    upward = []
    for path in sorted((ROOT / "facelab").glob("*.py")):
        if path.stem not in rank:
            continue
        for name in imports_of(path) & set(rank):
            if rank[name] >= rank[path.stem] and (path.stem, name) not in UPWARD:
                upward.append(f"{path.stem} imports {name}, listed below it")
    assert upward == []
