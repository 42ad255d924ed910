"""Per-session workflow locks: one session may reserve a workflow's mutations.

A lock is advisory for callers that pass no ``session_id`` (as in the reference) and
binding for those that do. A lock whose session stopped heartbeating for
``SESSION_TIMEOUT_MS`` is stale and may be taken over, so a crashed session cannot
wedge a workflow.
"""

from __future__ import annotations

import os
from typing import Any

from caw_lab.engine.changes import Event, Gated, commit, raw
from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError, not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

SESSION_TIMEOUT_MS = 10 * 60 * 1000

LIVE_HOLDER = """locked_by_session_id IS NOT NULL AND locked_by_session_id != ?
  AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = workflows.locked_by_session_id AND s.last_heartbeat >= ?)"""


def refresh_session(session_id: str) -> Gated:
    return raw("UPDATE sessions SET last_heartbeat = ? WHERE id = ? AND", (now_ms(), session_id))


def lock(db: Backend, workflow_id: str, session_id: str) -> dict[str, Any]:
    fetch(db, "workflow", workflow_id)
    now = now_ms()
    guard = Statement(
        f"UPDATE workflows SET locked_by_session_id = ?, locked_at = ?, updated_at = ? "
        f"WHERE id = ? AND NOT ({LIVE_HOLDER})",
        (session_id, now, now, workflow_id, session_id, now - SESSION_TIMEOUT_MS),
    )
    event = Event("workflow.locked", workflow_id, payload={"session_id": session_id})
    session_rows = [
        raw("INSERT OR IGNORE INTO sessions (id, pid, started_at, last_heartbeat) SELECT ?, ?, ?, ? WHERE",
            (session_id, os.getpid(), now, now)),
        refresh_session(session_id),
    ]
    if commit(db, event, guard=guard, then=session_rows) is None:
        info = lock_info(db, workflow_id)
        return {"success": False, "locked_by": info["session_id"], "locked_at": info["locked_at"]}
    return {"success": True, "locked_by": session_id, "locked_at": now}


def unlock(db: Backend, workflow_id: str, session_id: str) -> dict[str, Any]:
    workflow = fetch(db, "workflow", workflow_id)
    holder = workflow["locked_by_session_id"]
    if holder is None:
        return {"success": True}
    if holder != session_id:
        raise CawError(
            "WORKFLOW_LOCKED",
            f"Workflow {workflow_id} is locked by session {holder}, not {session_id}",
            recoverable=True,
            suggestion="Only the session holding the lock can release it; wait for it to unlock or time out.",
        )
    now = now_ms()
    guard = Statement(
        "UPDATE workflows SET locked_by_session_id = NULL, locked_at = NULL, updated_at = ? "
        "WHERE id = ? AND locked_by_session_id = ?",
        (now, workflow_id, session_id),
    )
    commit(db, Event("workflow.unlocked", workflow_id, payload={"session_id": session_id}), guard=guard)
    return {"success": True}


def lock_info(db: Backend, workflow_id: str) -> dict[str, Any]:
    row = db.one(
        "SELECT w.locked_by_session_id, w.locked_at, s.pid FROM workflows w "
        "LEFT JOIN sessions s ON s.id = w.locked_by_session_id WHERE w.id = ?",
        (workflow_id,),
    )
    if row is None:
        raise not_found("workflow", workflow_id)
    return {
        "locked": row["locked_by_session_id"] is not None,
        "session_id": row["locked_by_session_id"],
        "locked_at": row["locked_at"],
        "session_pid": row["pid"],
    }


WORKFLOW_OF = {
    "workflow": "SELECT id AS wf FROM workflows WHERE id = ?",
    "task": "SELECT workflow_id AS wf FROM tasks WHERE id = ?",
    "workspace": "SELECT workflow_id AS wf FROM workspaces WHERE id = ?",
}


def require_unlocked(db: Backend, kind: str, ident: str, session_id: str) -> None:
    """Refuse with WORKFLOW_LOCKED when another live session holds the workflow's lock.

    An unknown id passes here so the tool itself reports the right NOT_FOUND.
    """
    workflow_id = db.scalar(WORKFLOW_OF[kind], (ident,))
    if workflow_id is None:
        return
    row = db.one(
        f"SELECT locked_by_session_id FROM workflows WHERE id = ? AND {LIVE_HOLDER}",
        (workflow_id, session_id, now_ms() - SESSION_TIMEOUT_MS),
    )
    if row:
        raise CawError(
            "WORKFLOW_LOCKED",
            f"Workflow {workflow_id} is locked by session {row['locked_by_session_id']}",
            recoverable=True,
            suggestion="Wait for the lock to be released, or call workflow_lock once it is free.",
        )
