"""Shared fixtures: every test gets its own real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.store.backend import Backend

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workflows.db"


@pytest.fixture
def client(db_path: Path) -> Iterator[caw_lab.Client]:
    with caw_lab.connect(db_path) as c:
        yield c


def dump(db: Backend) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, for byte-for-byte before/after comparisons."""
    tables = [r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: db.query(f"SELECT * FROM {t} ORDER BY rowid") for t in tables}


def make_workflow(client: caw_lab.Client, tasks: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """A workflow with ``tasks`` planned; returns ``{"id", "tasks": {name: id}}``."""
    wf = client.call("workflow_create", name=kwargs.pop("name", "wf"), source_type="prompt",
                     source_content="test", **kwargs)
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "test plan", "tasks": tasks})
    return {"id": wf["id"], "tasks": {t["name"]: t["id"] for t in plan["tasks"]}}
