"""task_add_dependency / task_remove_dependency: edges of the DAG, never a cycle."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import caw_lab
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow

CHAIN = [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["b"]}, {"name": "d"}]


def depends_on(client: caw_lab.Client, task_id: str) -> list[str]:
    wf = client.db.scalar("SELECT workflow_id FROM tasks WHERE id = ?", (task_id,))
    tasks = client.call("workflow_get", id=wf, include_tasks=True)["tasks"]
    return next(t["depends_on"] for t in tasks if t["id"] == task_id)


def test_add_makes_the_task_wait_and_writes_one_event(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    t = wf["tasks"]
    head = client.call("events_list")["head"]
    result = client.call("task_add_dependency", task_id=t["d"], depends_on_id=t["c"])
    assert result == {"success": True, "created": True, "task_id": t["d"], "depends_on_id": t["c"]}
    assert depends_on(client, t["d"]) == [t["c"]]
    events = client.call("events_list", since_seq=head)["events"]
    assert [(e["kind"], e["workflow_id"], e["task_id"], e["payload"]["depends_on_id"]) for e in events] == [
        ("task.dependency_added", wf["id"], t["d"], t["c"])
    ]
    statuses = {x["name"]: x["status"] for x in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]}
    assert statuses["d"] == "blocked"


def test_adding_an_existing_edge_changes_nothing(client: caw_lab.Client) -> None:
    t = make_workflow(client, CHAIN)["tasks"]
    before = dump(client.db)
    assert client.call("task_add_dependency", task_id=t["b"], depends_on_id=t["a"])["created"] is False
    assert dump(client.db) == before


def test_an_edge_closing_a_cycle_is_refused_naming_the_cycle(client: caw_lab.Client) -> None:
    t = make_workflow(client, CHAIN)["tasks"]
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("task_add_dependency", task_id=t["a"], depends_on_id=t["c"])
    err = refused.value
    assert err.code == "DEPENDENCY_CYCLE" and err.recoverable
    assert "'a' -> 'c' -> 'b' -> 'a'" in err.message
    assert err.details["cycle_names"] == ["a", "c", "b", "a"]
    assert dump(client.db) == before


@pytest.mark.parametrize(
    ("task", "upstream", "code"),
    [("a", "a", "INVALID_INPUT"), ("a", "tk_000000000000", "TASK_NOT_FOUND"), ("a", "other", "DEPENDENCY_CYCLE")],
)
def test_bad_edges_are_refused_before_writing(client: caw_lab.Client, task: str, upstream: str, code: str) -> None:
    wf = make_workflow(client, CHAIN)
    t = wf["tasks"]
    waits = [{"workflow_id": wf["id"], "task": "c"}]  # so a -> other would close a cycle across workflows
    t["other"] = make_workflow(client, [{"name": "x", "depends_on": waits}], name="other")["tasks"]["x"]
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("task_add_dependency", task_id=t[task], depends_on_id=t.get(upstream, upstream))
    assert refused.value.code == code
    assert dump(client.db) == before


def test_remove_frees_the_task_and_a_missing_edge_is_refused(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    t = wf["tasks"]
    assert client.call("task_remove_dependency", task_id=t["b"], depends_on_id=t["a"])["success"] is True
    assert depends_on(client, t["b"]) == []
    head = client.call("events_list")["head"]
    with pytest.raises(CawError) as refused:
        client.call("task_remove_dependency", task_id=t["b"], depends_on_id=t["a"])
    assert refused.value.code == "DEPENDENCY_NOT_FOUND"
    assert client.call("events_list", since_seq=head)["events"] == []


def test_a_locked_workflow_refuses_other_sessions(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    t = wf["tasks"]
    assert client.call("workflow_lock", id=wf["id"], session_id="ss_owner")["success"]
    with pytest.raises(CawError) as refused:
        client.call("task_add_dependency", task_id=t["d"], depends_on_id=t["a"], session_id="ss_other")
    assert refused.value.code == "WORKFLOW_LOCKED"
    assert client.call("task_add_dependency", task_id=t["d"], depends_on_id=t["a"], session_id="ss_owner")["created"]


RACER = """
import sys, time
import caw_lab
from caw_lab.errors import CawError
db, start, pairs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
with caw_lab.connect(db) as client:
    time.sleep(max(0.0, start - time.time()))
    for pair in pairs:
        task, upstream = pair.split(":")
        try:
            client.call("task_add_dependency", task_id=task, depends_on_id=upstream)
        except CawError as exc:
            assert exc.code in ("DEPENDENCY_CYCLE", "CONFLICT"), exc
"""


def test_two_processes_adding_opposite_edges_never_make_a_cycle(client: caw_lab.Client, db_path: Path) -> None:
    names = [f"{side}{i}" for i in range(40) for side in "pq"]
    t = make_workflow(client, [{"name": n} for n in names])["tasks"]
    forward = [f"{t[f'p{i}']}:{t[f'q{i}']}" for i in range(40)]
    backward = [f"{t[f'q{i}']}:{t[f'p{i}']}" for i in range(40)]
    start = time.time() + 1.5
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(db_path), str(start), *edges])
              for edges in (forward, backward)]
    assert [r.wait(timeout=60) for r in racers] == [0, 0]
    for i in range(40):
        edges = [depends_on(client, t[f"p{i}"]), depends_on(client, t[f"q{i}"])]
        assert sorted(map(len, edges)) == [0, 1], (i, edges)
