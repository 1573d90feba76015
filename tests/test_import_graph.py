"""Imports run one way: no cycle between modules or subpackages, no private name imported from
another module, and the library never imports the lmms-eval task suite (tasks -> library).

The graph is read from the sources (``ast``), imports inside functions included: a lazy import
hides a cycle from Python at import time, not from the reader.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("videonet_datasets", "videonet_lmms_tasks", "hub_cards", "research", "bench", "tools")
#: The command-line layer may import the task suite (``videonet eval`` launches it).
APP_LAYER = ("videonet_datasets.cli", "videonet_datasets.commands")


def module_files(root: Path = REPO, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def import_graph(files: Mapping[str, Path]) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Module -> the project modules it imports; and (module, source, name) of private imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    private = []

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges[mod].update(t for a in node.names if (t := known(a.name)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for alias in node.names:
                    target = known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in files else known(base)
                    if target and target != mod:
                        edges[mod].add(target)
                    if target and alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append((mod, base, alias.name))
    return edges, private


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    nodes = set(edges) | {t for ts in edges.values() for t in ts}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def subpackage(mod: str, files: Mapping[str, Path]) -> str:
    """``videonet_datasets.synth.world`` -> ``videonet_datasets.synth``; root modules stand alone."""
    parts = mod.split(".")
    for n in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:n])
        if n >= 2 and files.get(head, Path()).name == "__init__.py":
            return head
    return mod


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], dict[str, set[str]], list[tuple[str, str, str]]]:
    files = module_files()
    edges, private = import_graph(files)
    return files, edges, private


def test_no_import_cycle_between_modules(graph) -> None:
    _, edges, _ = graph
    assert cycles(edges) == []


def test_no_import_cycle_between_subpackages(graph) -> None:
    files, edges, _ = graph
    coarse: dict[str, set[str]] = defaultdict(set)
    for mod, targets in edges.items():
        for t in targets:
            a, b = subpackage(mod, files), subpackage(t, files)
            # a package's __init__ re-exporting its own modules is not a dependency between packages
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                coarse[a].add(b)
    assert cycles(coarse) == []


def test_no_private_name_imported_from_another_module(graph) -> None:
    _, _, private = graph
    assert private == []


def test_the_tests_import_no_private_name_of_the_project(graph) -> None:
    files, _, _ = graph
    tests = {f"tests.{p.stem}": p for p in sorted((REPO / "tests").glob("*.py"))}
    # The tests import each other by file name (pytest puts tests/ on the path).
    renamed = {**files, **{name.removeprefix("tests."): path for name, path in tests.items()}}
    _, private = import_graph(renamed)
    assert [p for p in private if p[0] in {n.removeprefix("tests.") for n in tests}] == []


def test_the_library_never_imports_the_task_suite(graph) -> None:
    _, edges, _ = graph
    wrong = sorted(
        (mod, t)
        for mod, targets in edges.items()
        if mod.startswith("videonet_datasets") and not mod.startswith(APP_LAYER)
        for t in targets
        if t.startswith("videonet_lmms_tasks")
    )
    assert wrong == []


def test_the_checks_see_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import _helper\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    files = module_files(tmp_path, ["pkg"])
    edges, private = import_graph(files)
    assert cycles(edges) == [["pkg.a", "pkg.b"]]
    assert private == [("pkg.a", "pkg.b", "_helper")]
