"""Handing a task to another agent, possibly on another machine sharing the database (D1).

One change does it all: the holder's claim is dropped, a ``handoff`` checkpoint records
the note, and a message tells the receiver (or, with no receiver named, every other
worker) which task is theirs to pick up. The task keeps its status, so a started task
shows up first in task_get_available as orphaned work; whoever claims it finds the note
at the head of its checkpoints, and the message, in task_load_context.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine import checkpoints, claims, messages
from caw_lab.engine.agents import GIVE_UP_AFTER
from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError, conflict, invalid_input
from caw_lab.store.backend import Backend

LIVE_WORKERS = {"role": "worker", "status": ["online", "busy"]}
"""Who hears of a hand-off to no one in particular: workers that have not gone offline or stale."""


def handoff(db: Backend, task_id: str, from_agent: str, to_agent: str | None, note: str) -> dict[str, Any]:
    """``{success, checkpoint_id, message_ids, to_agent}``; only the holder may hand off."""
    if to_agent == from_agent:
        raise invalid_input("An agent cannot hand a task to itself", "Name another agent, or none for any worker.")
    if to_agent is not None and db.one("SELECT 1 AS found FROM agents WHERE id = ?", (to_agent,)) is None:
        raise CawError("RECIPIENT_NOT_FOUND", f"Recipient agent not found: {to_agent}", recoverable=False,
                       suggestion="List agents (agent_list) to find the receiver's id, or leave it out.")
    for _ in range(GIVE_UP_AFTER):
        state = claims.read(db, task_id, from_agent)
        claims.require_holder(state, task_id, from_agent)
        done = attempt(db, state, task_id, from_agent, to_agent, note)
        if done is not None:
            return done
    raise conflict(f"Task {task_id} kept changing while handing it off")


def attempt(
    db: Backend, state: dict[str, Any], task_id: str, from_agent: str, to_agent: str | None, note: str
) -> dict[str, Any] | None:
    workflow_id = state["workflow_id"]
    receivers = [to_agent] if to_agent else messages.matching_agents(db, from_agent, LIVE_WORKERS)
    detail = {"from_agent": from_agent, "to_agent": to_agent}
    checkpoint_id, add = checkpoints.add_statement(task_id, "handoff", note, detail)
    kind = "task_assignment" if to_agent else "broadcast"
    letters = notes(db, task_id, workflow_id, from_agent, receivers, kind, note, checkpoint_id)
    guard, freed = claims.claim_dropping(db, task_id, from_agent, "task handed off")
    ids = [m["id"] for m in letters]
    payload = {**detail, "checkpoint_id": checkpoint_id, "message_ids": ids}
    event = Event("task.handed_off", workflow_id, task_id, from_agent, payload)
    if commit(db, event, guard=guard, then=[*freed, add, *(insert("messages", m) for m in letters)]) is None:
        return None
    return {"success": True, "checkpoint_id": checkpoint_id, "message_ids": ids, "to_agent": to_agent}


def notes(
    db: Backend, task_id: str, workflow_id: str, from_agent: str, receivers: list[str], kind: str, note: str,
    checkpoint_id: str,
) -> list[dict[str, Any]]:
    """One message per receiver, all in one thread, tied to the task so its context shows them."""
    subject = f"Hand-off: {fetch(db, 'task', task_id)['name']}"
    body = {"task_id": task_id, "note": note, "checkpoint_id": checkpoint_id, "from_agent": from_agent}
    rows = [{**messages.message_row(from_agent, r, kind, body, subject, "high", workflow_id), "task_id": task_id}
            for r in receivers]
    return [{**row, "thread_id": rows[0]["id"]} for row in rows]
