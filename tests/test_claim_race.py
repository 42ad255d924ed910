"""The claim race with real processes: eight spawned processes, each with its own
connection to one SQLite file, claim from one 400-task workflow until nothing is left.
Every task must end up with exactly one winner and exactly one ``task.claimed`` event."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import caw_lab
from tests.conftest import make_workflow

PROCESSES = 8
TASKS = 400
TIMEOUT_S = 60


def racer(db_path: str, workflow_id: str, start: Barrier, results: Any, name: str) -> None:
    """Claim whatever is available, in the order offered, until nothing is left.

    Every racer is offered the same tasks in the same order, so most claims collide.
    """
    with caw_lab.connect(db_path) as client:
        agent_id = client.call("agent_register", name=name, runtime="custom")["id"]
        won: list[str] = []
        lost = 0
        start.wait(TIMEOUT_S)
        while tasks := client.call("task_get_available", agent_id=agent_id, workflow_id=workflow_id, limit=16)["tasks"]:
            for task in tasks:
                answer = client.call("task_claim", task_id=task["id"], agent_id=agent_id)
                if answer["success"]:
                    won.append(task["id"])
                else:
                    assert answer["already_claimed_by"] != agent_id
                    lost += 1
        results.put({"agent_id": agent_id, "won": won, "lost": lost})


def race(db_path: Path | str, workflow_id: str) -> list[dict[str, Any]]:
    """Run the racers on ``db_path``, a SQLite file or a D1 URL, and collect what each won."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(PROCESSES + 1), ctx.Queue()
    processes = [
        ctx.Process(target=racer, args=(str(db_path), workflow_id, start, results, f"racer-{i}"))
        for i in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    try:
        start.wait(TIMEOUT_S)
        outcomes = [results.get(timeout=TIMEOUT_S) for _ in processes]
    finally:
        for p in processes:
            p.join(TIMEOUT_S)
    assert all(p.exitcode == 0 for p in processes)
    return outcomes


def test_every_task_is_won_exactly_once(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": f"task-{i}"} for i in range(TASKS)], max_parallel_tasks=1000)
    outcomes = race(db_path, wf["id"])

    winners = {task: o["agent_id"] for o in outcomes for task in o["won"]}
    assert sum(len(o["won"]) for o in outcomes) == TASKS, "some task had two winners"
    assert set(winners) == set(wf["tasks"].values())

    rows = client.db.query("SELECT id, assigned_agent_id FROM tasks WHERE workflow_id = ?", (wf["id"],))
    assert {r["id"]: r["assigned_agent_id"] for r in rows} == winners

    events = client.call("events_list", workflow_id=wf["id"], kinds=["task.claimed"])["events"]
    assert sorted(e["task_id"] for e in events) == sorted(winners)
    assert all(e["agent_id"] == winners[e["task_id"]] for e in events)
    assert client.call("workflow_get", id=wf["id"])["status"] == "in_progress"
