"""Shared fixtures: every test gets its own real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import itertools
import shutil

import pytest

import caw_lab
from caw_lab.store.backend import Backend

SHARED = Path(__file__).resolve().parents[2] / "shared"
D1_DATABASES = 400
_d1_ids = itertools.count()


@pytest.fixture(scope="session")
def local_d1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real local D1 (workerd via Miniflare) for the whole run, with many empty databases."""
    if shutil.which("npm") is None:
        pytest.skip("Node.js/npm is not installed: the local D1 needs it (apt-get install -y nodejs npm)")
    from caw_lab.d1local import LocalD1

    with LocalD1(tmp_path_factory.mktemp("d1"), [f"t{i}" for i in range(D1_DATABASES)]) as server:
        yield server


@pytest.fixture
def fresh_d1_database(local_d1: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of a D1 database no other test has used; the environment points at the local D1."""
    for name, value in local_d1.env().items():
        monkeypatch.setenv(name, value)
    index = next(_d1_ids)
    if index >= D1_DATABASES:
        pytest.skip("the local D1 has no unused database left; raise D1_DATABASES")
    return f"t{index}"


@pytest.fixture
def d1_client(local_d1: Any, fresh_d1_database: str) -> Iterator[caw_lab.Client]:
    with caw_lab.connect(local_d1.url(fresh_d1_database)) as c:
        yield c


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workflows.db"


@pytest.fixture
def client(db_path: Path) -> Iterator[caw_lab.Client]:
    with caw_lab.connect(db_path) as c:
        yield c


def dump(db: Backend) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, for byte-for-byte before/after comparisons."""
    tables = [
        r["name"]
        for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name")
    ]
    return {t: db.query(f"SELECT * FROM {t} ORDER BY rowid") for t in tables}


def make_workflow(client: caw_lab.Client, tasks: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """A workflow with ``tasks`` planned; returns ``{"id", "tasks": {name: id}}``."""
    wf = client.call("workflow_create", name=kwargs.pop("name", "wf"), source_type="prompt",
                     source_content="test", **kwargs)
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "test plan", "tasks": tasks})
    return {"id": wf["id"], "tasks": {t["name"]: t["id"] for t in plan["tasks"]}}
