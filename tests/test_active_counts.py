"""The stored count of each workflow's active tasks (``workflows.active_tasks``, kept by the
triggers of migration 010) against the tasks themselves, counted: after every kind of
transition, on SQLite and D1, under processes racing to claim, release, finish and fail,
with agents vanishing and recovery sweeps releasing what they held, and after migrating a
database that already had active tasks."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.engine import transfer
from caw_lab.engine.orchestration import ACTIVE
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.migrate import migrate, split_statements
from tests.conftest import make_workflow

PROCESSES = 4
ROUNDS = 40
TIMEOUT_S = 120


def stored_and_counted(db: Backend) -> dict[str, tuple[int, int]]:
    rows = db.query(f"SELECT w.id, w.active_tasks, (SELECT COUNT(*) FROM tasks t WHERE t.workflow_id = w.id "
                    f"AND {ACTIVE.format(t='t')}) AS counted FROM workflows w")
    return {r["id"]: (r["active_tasks"], r["counted"]) for r in rows}


def assert_kept(db: Backend) -> dict[str, int]:
    """Every workflow's stored count is its active tasks, counted; returns the counts."""
    found = stored_and_counted(db)
    assert all(stored == counted for stored, counted in found.values()), found
    return {wf: counted for wf, (_, counted) in found.items()}


def agent(client: caw_lab.Client, name: str) -> str:
    return client.call("agent_register", name=name, runtime="custom")["id"]


def test_the_count_follows_every_transition(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": n} for n in "abcdefg"], max_parallel_tasks=10)
    t, wid = wf["tasks"], wf["id"]
    first, second = agent(client, "first"), agent(client, "second")
    steps: list[tuple[str, dict[str, Any], int]] = [
        ("task_claim", {"task_id": t["a"], "agent_id": first}, 1),
        ("task_claim", {"task_id": t["b"], "agent_id": first}, 2),
        ("task_claim", {"task_id": t["b"], "agent_id": second}, 2),  # lost: nothing moves
        ("task_update_status", {"id": t["a"], "status": "planning"}, 2),
        ("task_update_status", {"id": t["a"], "status": "in_progress"}, 2),
        ("task_release", {"task_id": t["b"], "agent_id": first}, 1),
        ("task_update_status", {"id": t["a"], "status": "paused"}, 1),
        ("task_update_status", {"id": t["a"], "status": "in_progress"}, 1),
        ("task_update_status", {"id": t["a"], "status": "completed", "outcome": "done"}, 0),
        ("task_claim", {"task_id": t["c"], "agent_id": second}, 1),
        ("task_update_status", {"id": t["c"], "status": "planning"}, 1),
        ("task_update_status", {"id": t["c"], "status": "in_progress"}, 1),
        ("task_update_status", {"id": t["c"], "status": "failed", "error": "broke"}, 0),
        ("task_claim", {"task_id": t["d"], "agent_id": second}, 1),
        ("task_claim", {"task_id": t["e"], "agent_id": second}, 2),
        ("task_update_status", {"id": t["e"], "status": "planning"}, 2),
        # the agent goes away: its pending claim is dropped, its started task stays started (orphaned)
        ("agent_unregister", {"id": second}, 1),
        ("task_claim", {"task_id": t["e"], "agent_id": first}, 1),  # picking up the orphan takes no new slot
        ("task_handoff", {"task_id": t["e"], "from_agent": first, "to_agent": agent(client, "third"),
                          "note": "over to you"}, 1),
        ("task_claim", {"task_id": t["f"], "agent_id": first}, 2),
        # silent agents' tasks are recovered: released, retried or dead-lettered
        ("recovery_sweep", {"timeout_ms": 0}, None),
        ("workflow_remove_task", {"workflow_id": wid, "task_id": t["g"]}, None),
    ]
    for tool, args, expected in steps:
        client.call(tool, **args)
        counts = assert_kept(client.db)
        if expected is not None:
            assert counts[wid] == expected, (tool, args)


def test_a_full_workflow_is_refused_from_the_count_and_freed_by_finishing(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": n} for n in "abc"], max_parallel_tasks=2)
    a, b, c = (wf["tasks"][n] for n in "abc")
    one = agent(client, "one")
    assert client.call("task_claim", task_id=a, agent_id=one)["success"]
    assert client.call("task_claim", task_id=b, agent_id=one)["success"]
    assert client.call("task_claim", task_id=c, agent_id=one) == {
        "success": False, "reason": "max_parallel_tasks", "max_parallel_tasks": 2, "active": 2}
    for status, extra in (("planning", {}), ("in_progress", {}), ("completed", {"outcome": "done"})):
        client.call("task_update_status", id=a, status=status, **extra)
    assert client.call("task_claim", task_id=c, agent_id=one) == {"success": True}
    assert assert_kept(client.db)[wf["id"]] == 2


def worker(db_path: str, workflow_ids: list[str], seed: int, out: Any) -> None:
    """Claim, start, finish, fail and release at random; now and then vanish (unregister) or
    sweep every silent agent's tasks, as a crashed agent's recovery does."""
    rng = random.Random(seed)
    with caw_lab.connect(db_path) as client:
        me = agent(client, f"w{seed}")
        done = 0
        for _ in range(ROUNDS):
            wf = rng.choice(workflow_ids)
            offered = client.call("task_get_available", agent_id=me, workflow_id=wf, limit=5)["tasks"]
            try:
                if offered and client.call("task_claim", task_id=(task := rng.choice(offered))["id"],
                                           agent_id=me)["success"]:
                    act(client, rng, task["id"], me)
                    done += 1
                if rng.random() < 0.1:
                    client.call("agent_unregister", id=me)
                    me = agent(client, f"w{seed}")
                if rng.random() < 0.05:
                    client.call("recovery_sweep", timeout_ms=0)
            except CawError as err:  # lost races (the task moved on meanwhile) are expected
                assert err.code in {"INVALID_TRANSITION", "NOT_ASSIGNED", "NOT_CLAIMED", "INVALID_STATE",
                                    "TASK_BLOCKED", "CONFLICT"}, err
        out.put(done)


def act(client: caw_lab.Client, rng: random.Random, task_id: str, me: str) -> None:
    choice = rng.choice(["release", "complete", "fail", "keep", "pause"])
    if choice == "release":
        client.call("task_release", task_id=task_id, agent_id=me)
        return
    client.call("task_update_status", id=task_id, status="planning")
    if choice == "keep":
        return
    client.call("task_update_status", id=task_id, status="in_progress")
    if choice == "complete":
        client.call("task_update_status", id=task_id, status="completed", outcome="ok")
    elif choice == "fail":
        client.call("task_update_status", id=task_id, status="failed", error="broke")
    elif choice == "pause":
        client.call("task_update_status", id=task_id, status="paused")


def test_the_count_stays_right_under_racing_processes(db_path: Path) -> None:
    with caw_lab.connect(db_path) as client:
        workflows = [make_workflow(client, [{"name": f"t{i}"} for i in range(30)], name=f"wf{w}",
                                   max_parallel_tasks=6)["id"] for w in range(2)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(str(db_path), workflows, seed, out)) for seed in range(PROCESSES)]
    for p in procs:
        p.start()
    done = [out.get(timeout=TIMEOUT_S) for _ in procs]
    for p in procs:
        p.join(TIMEOUT_S)
    assert all(p.exitcode == 0 for p in procs)
    assert sum(done) > 0
    with caw_lab.connect(db_path) as client:
        counts = assert_kept(client.db)
        assert all(0 <= n <= 6 for n in counts.values()), counts
        client.call("recovery_sweep", timeout_ms=0)
        assert_kept(client.db)


def test_migrating_counts_the_tasks_already_active(db_path: Path) -> None:
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": n} for n in "abc"], max_parallel_tasks=3)
        one = agent(client, "one")
        for name in "ab":
            client.call("task_claim", task_id=wf["tasks"][name], agent_id=one)
        client.call("task_update_status", id=wf["tasks"]["a"], status="planning")
        # back to the schema before migration 010, active tasks and all
        client.db.batch([Statement(f"DROP TRIGGER {name}") for name in
                         ("tasks_active_inserted", "tasks_active_deleted", "tasks_active_updated")]
                        + [Statement("ALTER TABLE workflows DROP COLUMN active_tasks"),
                           Statement("DELETE FROM schema_migrations WHERE version = 10")])
        assert migrate(client.db) == [10]
        assert assert_kept(client.db) == {wf["id"]: 2}


def test_an_imported_workflow_counts_its_active_tasks_once(client: caw_lab.Client, tmp_path: Path) -> None:
    with caw_lab.connect(tmp_path / "source.db") as source:
        wf = make_workflow(source, [{"name": n} for n in "abc"], max_parallel_tasks=3)
        one = agent(source, "one")
        for name in "ab":
            source.call("task_claim", task_id=wf["tasks"][name], agent_id=one)
        source.call("task_update_status", id=wf["tasks"]["a"], status="planning")
        bundle = transfer.export(source.db, wf["id"])
    assert bundle["tables"]["workflows"][0]["active_tasks"] == 2
    transfer.import_bundle(client.db, bundle)
    assert assert_kept(client.db) == {wf["id"]: 2}
    assert transfer.import_bundle(client.db, bundle)["imported"] is False  # the same workflow, count and all


@pytest.mark.parametrize("script, statements", [
    ("CREATE TABLE a (x);\n-- a comment; with a semicolon\nCREATE TABLE b (y);", 2),
    (("CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET y = 1;\n  UPDATE b SET y = 2;\nEND;\n"
      "INSERT INTO a VALUES ('one; two');"), 2),
])
def test_migrations_split_into_whole_statements(script: str, statements: int) -> None:
    found = split_statements(script)
    assert len(found) == statements
    assert all(s and not s.endswith(";") for s in found)
