"""The import contract of DESIGN.md, kept by a walk over every module's imports.

Each package of ``caw_lab`` sits in one layer; a module imports only from its own layer or
below, the packages form no cycle, and SQL is written only in ``store`` and ``engine``.
A deliberately upward import fails ``test_imports_point_down`` with the offending line.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "caw_lab"

LAYERS: dict[str, int] = {
    # base: imported by everything, importing nothing above
    "errors": 0, "ids": 0, "correlation": 0, "version": 0, "limits": 0, "json_values": 0,
    # store
    "store": 1, "d1local": 1,
    # engine
    "engine": 2,
    # services
    "ranking": 3, "context": 3, "gitops": 3, "alerts": 3, "telemetry": 3,
    # runtimes (given what they call; they do not import tools)
    "runtimes": 4,
    # tools, and the client that binds their registry to a database (tools/client.py)
    "tools": 5,
    # surfaces
    "mcp": 6, "web": 6, "lab": 6, "cli": 6, "openai": 6, "setup": 6,
    # the front door (caw_lab.connect, caw_lab.Workbench, %load_ext caw_lab): lazy re-exports
    # of every layer, imported by users and never from inside caw-lab
    "(root)": 7,
}

# Surfaces reach the database through the tool registry alone (they may open a Backend to
# hand it over); of the engine they read only its vocabularies, constants rather than queries.
SURFACES = {name for name, layer in LAYERS.items() if layer == LAYERS["mcp"]}
ENGINE_VOCABULARIES = {"caw_lab.engine.states", "caw_lab.engine.event_kinds"}
# Moving a whole workflow between databases is a local operator's act, kept off the network
# surfaces on purpose (there is no tool for it), so ``caw export``/``caw import`` call the engine,
# and check their bundle file against the sandbox's roots as every tool checks its paths.
LOCAL_ONLY = {("caw_lab.cli.transfer", "caw_lab.engine.transfer"), ("caw_lab.cli.transfer", "caw_lab.engine.sandbox")}
# Likewise template registries: only the local user makes caw-lab fetch a URL or write a
# registry folder (`caw templates search/install/publish`); no tool does it for a network client.
LOCAL_ONLY |= {("caw_lab.cli.templates", "caw_lab.engine.templates.registry")}

SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA\s)")
SQL_HOMES = {"store", "engine", "d1local"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def imported(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """Every ``caw_lab`` module ``module`` imports, deferred (function-level) imports included."""
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            target = ".".join(filter(None, [base, node.module]))
            # ``from caw_lab.engine import states`` imports the module caw_lab.engine.states
            targets = [f"{target}.{alias.name}" for alias in node.names] if node.module is None or \
                (ROOT.parent / Path(*target.split(".")) ).is_dir() else [target]
        else:
            continue
        yield from ((node.lineno, t) for t in targets if t.split(".")[0] == "caw_lab")


def edges() -> list[tuple[str, int, str]]:
    return [(m, line, t) for m, path in modules() for line, t in imported(m, path)]


def test_every_package_has_a_layer() -> None:
    unplaced = {package(m) for m, _ in modules()} - LAYERS.keys()
    assert not unplaced, f"packages missing from the contract: {sorted(unplaced)}"


def test_imports_point_down() -> None:
    upward = [f"{m}:{line} imports {t}" for m, line, t in edges()
              if LAYERS[package(t)] > LAYERS[package(m)]]
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def test_surfaces_reach_the_engine_only_through_tools() -> None:
    direct = [f"{m}:{line} imports {t}" for m, line, t in edges()
              if package(m) in SURFACES and package(t) == "engine" and t not in ENGINE_VOCABULARIES
              and (m, t) not in LOCAL_ONLY]
    assert not direct, "surfaces calling the engine or store directly:\n" + "\n".join(direct)


def test_nothing_inside_imports_the_front_door() -> None:
    """``import caw_lab.store`` must not pull in the tool registry or the notebook surface."""
    inside = [f"{m}:{line} imports {t}" for m, line, t in edges() if m != "caw_lab" and t == "caw_lab"]
    assert not inside, "modules importing the package root:\n" + "\n".join(inside)


def test_packages_form_no_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for m, _, t in edges():
        if package(m) != package(t):
            graph[package(m)].add(package(t))
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in trail:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif len(trail) < len(LAYERS):
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "package cycles:\n" + "\n".join(sorted(set(cycles)))


def test_sql_lives_in_store_and_engine() -> None:
    found = []
    for m, path in modules():
        if package(m) in SQL_HOMES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                found.append(f"{m}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "SQL outside store and engine:\n" + "\n".join(found)


@pytest.mark.parametrize("line", ["from caw_lab.tools import registry", "import caw_lab.lab"])
def test_an_upward_import_is_caught(tmp_path: Path, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk sees the kind of line that would break the contract (in a copy, not the tree)."""
    fake = tmp_path / "caw_lab" / "engine" / "upward.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(line + "\n")
    found = [(line_no, t) for line_no, t in imported("caw_lab.engine.upward", fake)]
    assert found and all(LAYERS[package(t)] > LAYERS["engine"] for _, t in found)
