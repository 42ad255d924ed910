"""Shared fixtures: every test gets its own real database.

The ``client`` fixture runs each test on both backends, ids ``sqlite`` and ``d1``
(``-k sqlite`` / ``-k d1`` pick one): a real SQLite file, and a real local D1
(workerd via Miniflare) when npm is installed. A test that names the SQLite file
(``db_path``) or is marked ``sqlite_only`` runs on SQLite alone.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.store import migrate
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.d1 import D1Backend

pytest_plugins = ["tests.jupyter_lab"]  # the browser tests' fixtures: lab, chromium, page, shots

SHARED = Path(__file__).resolve().parents[2] / "shared"
D1_DATABASES = 64
REUSED_D1 = "reused"
_d1_ids = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: runs on the SQLite backend alone (reads PRAGMAs, the file, ...)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, in their order: xdist deals tests out as workers free up, so a minute-long
    test dealt last keeps one worker busy while the others have nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every ``client`` test on each backend it can run on."""
    if "client" not in metafunc.fixturenames:
        return
    sqlite_only = "db_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only")
    metafunc.parametrize("client", ["sqlite"] if sqlite_only else ["sqlite", "d1"], indirect=True)


os.environ["CAW_ISOLATION"] = "shared"
"""Tests run inside caw-lab's own repository, where isolated runs would make worktrees and branches;
set before any test module copies the environment. Tests of isolation ask for it in the workflow's config."""


@pytest.fixture(autouse=True)
def caw_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's caw folder (templates, registries) of every test: an empty one of its own,
    never the developer's ~/.caw."""
    home = tmp_path_factory.mktemp("caw-home")
    monkeypatch.setenv("CAW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def local_d1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real local D1 (workerd via Miniflare) for the whole run, with many empty databases."""
    if shutil.which("npm") is None:
        pytest.skip("Node.js/npm is not installed: the local D1 needs it (apt-get install -y nodejs npm)")
    from caw_lab.d1local import LocalD1

    databases = [REUSED_D1, *(f"t{i}" for i in range(D1_DATABASES))]
    with LocalD1(tmp_path_factory.mktemp("d1"), databases) as server:
        yield server


@pytest.fixture
def fresh_d1_database(local_d1: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of a D1 database no other test has used; the environment points at the local D1."""
    for name, value in local_d1.env().items():
        monkeypatch.setenv(name, value)
    return unused_d1_database()


def unused_d1_database() -> str:
    """The id of a database of the local D1 that no test has used yet."""
    index = next(_d1_ids)
    if index >= D1_DATABASES:
        pytest.skip("the local D1 has no unused database left; raise D1_DATABASES")
    return f"t{index}"


@pytest.fixture(scope="session")
def emptying_d1(local_d1: Any) -> list[Statement]:
    """Migrate the reused D1 database once; return the batch that deletes every row in it."""
    with caw_lab.Client(D1Backend("local", REUSED_D1, local_d1.token, local_d1.api)) as c:
        migrate(c.db)
        tables = [t for t in dump_tables(c.db) if t != "schema_migrations"]
    return [Statement("PRAGMA defer_foreign_keys = ON"), *(Statement(f"DELETE FROM {t}") for t in tables)]


@pytest.fixture
def d1_client(local_d1: Any, emptying_d1: list[Statement], monkeypatch: pytest.MonkeyPatch) -> Iterator[caw_lab.Client]:
    """The reused D1 database, emptied for this test in one request: one database serves
    every test of a worker, since that is far cheaper than migrating a fresh one each time."""
    for name, value in local_d1.env().items():
        monkeypatch.setenv(name, value)
    with caw_lab.Client(D1Backend.from_url(local_d1.url(REUSED_D1))) as c:
        c.db.batch(emptying_d1)
        yield c


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workflows.db"


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[caw_lab.Client]:
    if request.param == "d1":
        yield request.getfixturevalue("d1_client")
        return
    with caw_lab.connect(request.getfixturevalue("db_path")) as c:
        yield c


def dump(db: Backend) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, for byte-for-byte before/after comparisons."""
    tables = dump_tables(db)
    rows = db.batch([Statement(f"SELECT * FROM {t} ORDER BY rowid") for t in tables])
    return dict(zip(tables, rows, strict=True))


def dump_tables(db: Backend) -> list[str]:
    """The tables a dump holds: all but D1's own (``_cf_*``)."""
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name"
    return [r["name"] for r in db.query(sql)]


def make_workflow(client: caw_lab.Client, tasks: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """A workflow with ``tasks`` planned; returns ``{"id", "tasks": {name: id}}``."""
    wf = client.call("workflow_create", name=kwargs.pop("name", "wf"), source_type="prompt",
                     source_content="test", **kwargs)
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "test plan", "tasks": tasks})
    return {"id": wf["id"], "tasks": {t["name"]: t["id"] for t in plan["tasks"]}}


@pytest.fixture
def allowed_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's ``tmp_path`` as the one root paths may resolve in (``CAW_ALLOWED_ROOTS``): tests
    make their repositories there, outside the home directory and project the defaults allow."""
    monkeypatch.setenv("CAW_ALLOWED_ROOTS", str(tmp_path))
    return tmp_path
