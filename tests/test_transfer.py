"""Moving a workflow between databases: ``caw export`` / ``caw import`` and the engine under them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import caw_lab
from caw_lab.cli import main
from caw_lab.engine import states, transfer
from caw_lab.store.backend import Backend, Statement
from caw_lab.tools import load_all
from tests.conftest import dump, make_workflow

CAW = str(Path(sys.executable).with_name("caw"))


def agent(client: caw_lab.Client, name: str, **kwargs: Any) -> str:
    return client.call("agent_register", name=name, runtime="custom", **kwargs)["id"]


def lived_in(client: caw_lab.Client, tasks: int = 6, checkpoints: int = 12) -> str:
    """A workflow with history: a chain of dependencies, claims, finished and failed tasks,
    checkpoints spread over the tasks, and a threaded conversation between two agents."""
    plan = [{"name": f"t{i}", **({"depends_on": [f"t{i - 1}"]} if i % 3 else {})} for i in range(tasks)]
    wf = make_workflow(client, plan, max_parallel_tasks=tasks)
    ids = list(wf["tasks"].values())
    boss, worker = agent(client, "boss", role="coordinator", workflow_id=wf["id"]), agent(client, "worker")
    client.call("task_claim", task_id=ids[0], agent_id=worker)
    client.call("task_update_status", id=ids[0], status="planning")
    client.call("task_update_status", id=ids[0], status="in_progress")
    for i in range(checkpoints):
        client.call("checkpoint_add", task_id=ids[i % 3 * (tasks // 3)], type="progress", summary=f"step {i}",
                    detail={"big": 2**60 + i}, files_changed=[f"src/{i}.py"])
    client.call("task_update_status", id=ids[0], status="completed", outcome="done")
    question = client.call("message_send", sender_id=boss, recipient_id=worker, message_type="query",
                           body={"ask": "ok?"}, workflow_id=wf["id"], task_id=ids[0])
    client.call("message_send", sender_id=worker, recipient_id=boss, message_type="response", body="yes",
                workflow_id=wf["id"], reply_to_id=question["id"])
    return wf["id"]


def workflow_rows(db: Backend, workflow_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the workflow, events without their seq and without import records."""
    reads = [Statement(f"SELECT * FROM {t} WHERE {where} ORDER BY rowid", (workflow_id,))
             for t, where in transfer.SCOPE.items()]
    rows = dict(zip(transfer.SCOPE, db.batch(reads), strict=True))
    rows["events"] = [{k: v for k, v in e.items() if k != "seq"} for e in rows["events"]
                      if e["kind"] != "workflow.imported"]
    return rows


def arrived(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows as an import writes them: agents offline and on no task, the rest unchanged."""
    return {**rows, "agents": [{**a, "status": "offline", "current_task_id": None} for a in rows["agents"]]}


def test_round_trip_sqlite_d1_sqlite_keeps_every_row(tmp_path: Path, d1_client: caw_lab.Client) -> None:
    with caw_lab.connect(tmp_path / "laptop.db") as laptop, caw_lab.connect(tmp_path / "back.db") as back:
        workflow_id = lived_in(laptop, tasks=200, checkpoints=2000)
        original = workflow_rows(laptop.db, workflow_id)
        assert len(original["tasks"]) == 200 and len(original["checkpoints"]) == 2000

        assert transfer.import_bundle(d1_client.db, transfer.export(laptop.db, workflow_id))["imported"] is True
        assert workflow_rows(d1_client.db, workflow_id) == arrived(original)
        assert transfer.import_bundle(back.db, transfer.export(d1_client.db, workflow_id))["imported"] is True
        assert workflow_rows(back.db, workflow_id) == arrived(original)
        assert back.call("workflow_get", id=workflow_id) == laptop.call("workflow_get", id=workflow_id)


@pytest.fixture
def bundle(tmp_path: Path) -> dict[str, Any]:
    with caw_lab.connect(tmp_path / "source.db") as source:
        return transfer.export(source.db, lived_in(source))


def test_importing_the_same_bundle_again_writes_nothing(client: caw_lab.Client, bundle: dict[str, Any]) -> None:
    assert transfer.import_bundle(client.db, bundle)["imported"] is True
    before = dump(client.db)
    again = transfer.import_bundle(client.db, json.loads(json.dumps(bundle)))
    assert again == {"workflow_id": bundle["workflow_id"], "tasks": 6, "checkpoints": 12, "events": len(
        bundle["tables"]["events"]), "imported": False}
    assert dump(client.db) == before


def test_a_different_workflow_with_the_same_id_is_refused(client: caw_lab.Client, bundle: dict[str, Any]) -> None:
    transfer.import_bundle(client.db, bundle)
    task = bundle["tables"]["tasks"][1]["id"]
    client.call("task_update_status", id=task, status="planning")
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        transfer.import_bundle(client.db, bundle)
    assert info.value.code == "WORKFLOW_EXISTS"
    assert dump(client.db) == before


def test_events_keep_kind_payload_and_order_under_new_seq_numbers(
    client: caw_lab.Client, bundle: dict[str, Any]
) -> None:
    make_workflow(client, [{"name": "already here"}])
    head = client.call("events_list")["head"]
    transfer.import_bundle(client.db, bundle)
    events = client.call("events_list", workflow_id=bundle["workflow_id"], limit=10_000)["events"]
    assert events[0]["kind"] == "workflow.imported" and events[0]["seq"] > head
    imported = events[1:]
    assert [(e["kind"], e["payload"], e["at"]) for e in imported] == [
        (e["kind"], json.loads(e["payload"]), e["at"]) for e in bundle["tables"]["events"]
    ]
    assert [e["seq"] for e in imported] == list(range(events[0]["seq"] + 1, events[0]["seq"] + 1 + len(imported)))


def test_the_imported_workflow_works_on(client: caw_lab.Client, bundle: dict[str, Any]) -> None:
    transfer.import_bundle(client.db, bundle)
    workflow_id = bundle["workflow_id"]
    offered = client.call("workflow_next_tasks", workflow_id=workflow_id)["tasks"]
    assert [t["name"] for t in offered] == ["t1", "t3"]
    newcomer = agent(client, "newcomer")
    assert client.call("task_claim", task_id=offered[0]["id"], agent_id=newcomer)["success"] is True
    worker = next(a["id"] for a in bundle["tables"]["agents"] if a["name"] == "worker")
    inbox = client.call("message_list", agent_id=worker)["messages"]
    assert [m["body"] for m in inbox] == [{"ask": "ok?"}]


def test_references_outside_the_bundle_are_cleared_when_missing_here(client: caw_lab.Client, tmp_path: Path) -> None:
    with caw_lab.connect(tmp_path / "source.db") as source:
        elsewhere = make_workflow(source, [{"name": "x"}], name="elsewhere")
        wf = make_workflow(source, [{"name": "a"}])
        roamer = agent(source, "roamer", workflow_id=elsewhere["id"])
        source.call("task_claim", task_id=wf["tasks"]["a"], agent_id=roamer)
        bundle = transfer.export(source.db, wf["id"])
    transfer.import_bundle(client.db, bundle)
    assert client.call("agent_get", id=roamer)["workflow_id"] is None
    assert client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"][0]["assigned_agent_id"] == roamer


def broken(bundle: dict[str, Any], change: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(bundle))
    tables = copy["tables"]
    if change == "format":
        copy["format"] = "something else"
    elif change == "version":
        copy["version"] = 99
    elif change == "stray task":
        tables["tasks"].append({**tables["tasks"][0], "id": "tk_stray", "workflow_id": "wf_other"})
    elif change == "unknown column":
        tables["tasks"][0]["id) VALUES (1); DROP TABLE tasks; --"] = 1
    elif change == "unknown table":
        tables["sqlite_master"] = []
    elif change == "two workflows":
        tables["workflows"].append(tables["workflows"][0])
    elif change == "missing repository":
        tables["tasks"][-1]["repository_id"] = "rp_000000000000"
    return copy


@pytest.mark.parametrize("change,code", [
    ("format", "INVALID_INPUT"), ("version", "INVALID_INPUT"), ("stray task", "INVALID_INPUT"),
    ("unknown column", "INVALID_INPUT"), ("unknown table", "INVALID_INPUT"), ("two workflows", "INVALID_INPUT"),
    ("missing repository", "INVALID_INPUT"),
])
def test_bad_bundles_are_refused_and_write_nothing(
    client: caw_lab.Client, bundle: dict[str, Any], change: str, code: str
) -> None:
    make_workflow(client, [{"name": "already here"}])
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        transfer.import_bundle(client.db, broken(bundle, change))
    assert info.value.code == code
    assert dump(client.db) == before, "a refused import left rows behind"


def test_large_tables_travel_in_several_statements_of_one_batch(
    client: caw_lab.Client, bundle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "CHUNK_BYTES", 600)
    _guard, then = transfer.statements(bundle["workflow_id"], bundle["tables"])
    assert len(then) > len(transfer.SCOPE)
    transfer.import_bundle(client.db, bundle)
    assert len(client.call("checkpoint_list", task_id=bundle["tables"]["tasks"][0]["id"])["checkpoints"]) == 4


def test_export_of_an_unknown_workflow_is_not_found(client: caw_lab.Client) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        transfer.export(client.db, "wf_missing")
    assert info.value.code == "WORKFLOW_NOT_FOUND"


def caw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.usefixtures("allowed_roots")
def test_caw_export_and_import_hand_a_workflow_from_sqlite_to_d1(
    tmp_path: Path, local_d1: Any, fresh_d1_database: str
) -> None:
    laptop = tmp_path / "laptop.db"
    with caw_lab.connect(laptop) as source:
        workflow_id = lived_in(source)
    file = tmp_path / "bundle.json"
    exported = caw("--db", str(laptop), "export", workflow_id, "-o", str(file))
    assert exported.returncode == 0, exported.stderr
    d1 = local_d1.url(fresh_d1_database)
    imported = caw("--db", d1, "import", str(file))
    assert imported.returncode == 0 and json.loads(imported.stdout)["imported"] is True, imported.stderr
    with caw_lab.connect(d1) as team, caw_lab.connect(laptop) as source:
        assert workflow_rows(team.db, workflow_id) == arrived(workflow_rows(source.db, workflow_id))


@pytest.mark.usefixtures("allowed_roots")
def test_caw_import_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    refused = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "import", str(garbage)])
    assert refused.exit_code == 1 and json.loads(refused.stderr)["code"] == "INVALID_INPUT"


def enum(tool: str, param: str) -> set[str]:
    prop = load_all()[tool].input_schema()["properties"][param]
    return set(next(p["enum"] for p in [prop, *prop.get("anyOf", [])] if "enum" in p))


def test_bundles_accept_the_values_the_tools_accept() -> None:
    """The import's vocabularies (engine/states.py) and the tools' schemas are one list."""
    assert enum("agent_update", "status") == set(states.AGENT_STATUSES)
    assert enum("agent_register", "role") == set(states.AGENT_ROLES)
    assert enum("workspace_update", "status") == set(states.WORKSPACE_STATUSES)
    assert enum("message_list", "status") == set(states.MESSAGE_STATUSES)
    assert enum("message_send", "message_type") == set(states.MESSAGE_TYPES)
    assert enum("message_send", "priority") == set(states.MESSAGE_PRIORITIES)
    assert enum("dlq_list", "status") == {*states.DEAD_LETTER_STATUSES, "all"}
    assert enum("task_add_dependency", "dependency_type") == set(states.DEPENDENCY_TYPES)
    assert enum("workflow_add_task", "estimated_complexity") == set(states.COMPLEXITIES)
    assert enum("workflow_create", "source_type") == set(states.SOURCE_TYPES) - {"template"}
    assert enum("checkpoint_add", "type") == set(states.CHECKPOINT_TYPES)
