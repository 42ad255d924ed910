"""Agents that claim, work and finish tasks until their workflow is done, for the claim races of
tests/test_leases.py. Module-level functions, so processes forked from the fork server import them by name."""

from __future__ import annotations

import os
import time
from multiprocessing.synchronize import Barrier
from typing import Any

import caw_lab

TIMEOUT_S = 180
WORK_S = 0.02
"""How long a racer works on a task it holds: long enough that the others, meanwhile, find the
workflow's slots taken (a race that never reached a limit would show nothing about it)."""


def work_through(
    where: str, env: dict[str, str], workflow_id: str, start: Barrier, out: Any, index: int, lease_files: bool
) -> None:
    """Claim what is offered, work it (planning, a checkpoint, done) and go on until the workflow is done."""
    os.environ.update(env)
    with caw_lab.connect(where) as client:
        me = client.call("agent_register", name=f"racer-{index}", runtime="custom")["id"]
        won, refusals = [], {}
        start.wait(TIMEOUT_S)
        while client.call("workflow_get", id=workflow_id)["status"] != "completed":
            offered = client.call("task_get_available", agent_id=me, workflow_id=workflow_id, limit=6)["tasks"]
            for task in offered:
                try:
                    got = client.call("task_claim", task_id=task["id"], agent_id=me, lease_files=lease_files)
                except caw_lab.CawError as err:  # finished by its winner since it was offered
                    assert err.code == "INVALID_STATE", err
                    continue
                if not got["success"]:
                    reason = got.get("reason", "already_claimed")
                    refusals[reason] = refusals.get(reason, 0) + 1
                    continue
                won.append(task["id"])
                client.call("task_update_status", id=task["id"], status="planning")
                client.call("checkpoint_add", task_id=task["id"], type="progress", summary="working")
                time.sleep(WORK_S)
                client.call("task_update_status", id=task["id"], status="completed", outcome="done")
                break
            else:
                time.sleep(0.02)
        out.put({"agent_id": me, "won": won, "refusals": refusals})


def with_leases(where: str, env: dict[str, str], workflow_id: str, start: Barrier, out: Any, index: int) -> None:
    work_through(where, env, workflow_id, start, out, index, lease_files=True)


def without_leases(where: str, env: dict[str, str], workflow_id: str, start: Barrier, out: Any, index: int) -> None:
    work_through(where, env, workflow_id, start, out, index, lease_files=False)
