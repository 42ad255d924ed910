"""What the task metrics read: tasks by status, and how long completed tasks took, from the feed."""

from __future__ import annotations

from typing import Any

from caw_lab.store.backend import Backend

STARTED = "json_extract(s.payload, '$.to') = 'in_progress'"


def counts_by_status(db: Backend, workflow_id: str | None = None) -> dict[str, int]:
    where, params = ("WHERE workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
    rows = db.query(f"SELECT status, COUNT(*) AS n FROM tasks {where} GROUP BY status", params)
    return {row["status"]: row["n"] for row in rows}


def completion_ms(db: Backend, workflow_id: str | None = None) -> list[int]:
    """Milliseconds from each completion's last move to ``in_progress`` to the completion itself:
    the attempt that succeeded, not the time spent waiting to be claimed or failing before."""
    scope, params = ("AND e.workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
    rows = db.query(
        f"""SELECT e.at - (SELECT MAX(s.at) FROM events s WHERE s.task_id = e.task_id AND s.kind = 'task.status'
                              AND {STARTED} AND s.seq < e.seq) AS ms
            FROM events e
            WHERE e.kind = 'task.status' AND json_extract(e.payload, '$.to') = 'completed' {scope}""",
        params,
    )
    return [row["ms"] for row in rows if row["ms"] is not None]


def completions(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Each completion of the workflow's tasks: ``task_id``, ``at`` and ``ms`` (as ``completion_ms``
    measures it, None when the task never went through ``in_progress``)."""
    return db.query(
        f"""SELECT e.task_id, e.at, e.at - (SELECT MAX(s.at) FROM events s WHERE s.task_id = e.task_id
                                           AND s.kind = 'task.status' AND {STARTED} AND s.seq < e.seq) AS ms
            FROM events e
            WHERE e.kind = 'task.status' AND json_extract(e.payload, '$.to') = 'completed' AND e.workflow_id = ?
            ORDER BY e.seq""",
        (workflow_id,),
    )
