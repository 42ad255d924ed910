"""What the task metrics read: tasks by status, and how long completed tasks took, from the feed."""

from __future__ import annotations

from caw_lab.store.backend import Backend, Row
from caw_lab.store.reads import Later, Reads, alone

STARTED = "json_extract(s.payload, '$.to') = 'in_progress'"


def counts_by_status(db: Backend, workflow_id: str | None = None) -> dict[str, int]:
    return alone(db, status_counts, workflow_id)


def status_counts(reads: Reads, workflow_id: str | None = None) -> Later[dict[str, int]]:
    where, params = ("WHERE workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
    rows = reads.query(f"SELECT status, COUNT(*) AS n FROM tasks {where} GROUP BY status", params)
    return lambda: {row["status"]: row["n"] for row in rows()}


def completion_ms(db: Backend, workflow_id: str | None = None) -> list[int]:
    return alone(db, completion_times, workflow_id)


def completion_times(reads: Reads, workflow_id: str | None = None) -> Later[list[int]]:
    """Milliseconds from each completion's last move to ``in_progress`` to the completion itself:
    the attempt that succeeded, not the time spent waiting to be claimed or failing before."""
    scope, params = ("AND e.workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
    rows = reads.query(
        f"""SELECT e.at - (SELECT MAX(s.at) FROM events s WHERE s.task_id = e.task_id AND s.kind = 'task.status'
                              AND {STARTED} AND s.seq < e.seq) AS ms
            FROM events e
            WHERE e.kind = 'task.status' AND json_extract(e.payload, '$.to') = 'completed' {scope}""",
        params,
    )
    return lambda: [row["ms"] for row in rows() if row["ms"] is not None]


def completions(reads: Reads, workflow_id: str) -> Later[list[Row]]:
    """Each completion of the workflow's tasks: ``task_id``, ``at`` and ``ms`` (as ``completion_ms``
    measures it, None when the task never went through ``in_progress``)."""
    return reads.query(
        f"""SELECT e.task_id, e.at, e.at - (SELECT MAX(s.at) FROM events s WHERE s.task_id = e.task_id
                                           AND s.kind = 'task.status' AND {STARTED} AND s.seq < e.seq) AS ms
            FROM events e
            WHERE e.kind = 'task.status' AND json_extract(e.payload, '$.to') = 'completed' AND e.workflow_id = ?
            ORDER BY e.seq""",
        (workflow_id,),
    )
