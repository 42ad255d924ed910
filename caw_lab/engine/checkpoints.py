"""Checkpoints: a task's numbered trail of progress, decisions and errors.

A checkpoint's ``sequence`` is computed by the INSERT itself (``MAX + 1`` inside the
batch), so writers racing on one task get distinct, gapless numbers without reading
first, on SQLite and on D1 alike. ``UNIQUE (task_id, sequence)`` backs that up.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine import leases
from caw_lab.engine.changes import Event, Gated, commit
from caw_lab.engine.rows import decode, encode, placeholders, required
from caw_lab.engine.states import CHECKPOINT_TYPES
from caw_lab.errors import invalid_input, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Later, Reads

NEXT_SEQUENCE = "COALESCE((SELECT MAX(c.sequence) FROM checkpoints c WHERE c.task_id = ?), 0) + 1"


def add_statement(
    task_id: str,
    checkpoint_type: str,
    summary: str,
    detail: dict[str, Any] | None = None,
    files_changed: list[str] | None = None,
) -> tuple[str, Gated]:
    """The checkpoint's id and the gated INSERT that numbers it; it returns ``sequence``."""
    if checkpoint_type not in CHECKPOINT_TYPES:
        raise invalid_input(
            f"Unknown checkpoint type: {checkpoint_type!r}", f"Use one of: {', '.join(CHECKPOINT_TYPES)}."
        )
    checkpoint_id = new_id("checkpoint")
    sql = (
        "INSERT INTO checkpoints (id, task_id, sequence, checkpoint_type, summary, detail, files_changed, created_at) "
        f"SELECT ?, ?, {NEXT_SEQUENCE}, ?, ?, ?, ?, ? WHERE"
    )
    params = (
        checkpoint_id, task_id, task_id, checkpoint_type, summary, encode(detail), encode(files_changed), now_ms()
    )
    return checkpoint_id, Gated(sql, params, returning="sequence")


def add(
    db: Backend,
    task_id: str,
    checkpoint_type: str,
    summary: str,
    detail: dict[str, Any] | None = None,
    files_changed: list[str] | None = None,
    fencing_token: int | None = None,
) -> dict[str, Any]:
    """Add a checkpoint; it renews the task's leases. With ``fencing_token`` it is written on behalf
    of that lease: only while the lease holds (else LEASE_STALE), and it renews that lease too."""
    workflow_id = db.scalar("SELECT workflow_id FROM tasks WHERE id = ?", (task_id,))
    if workflow_id is None:
        raise not_found("task", task_id)
    checkpoint_id, statement = add_statement(task_id, checkpoint_type, summary, detail, files_changed)
    payload: dict[str, Any] = {"checkpoint_id": checkpoint_id, "type": checkpoint_type}
    if fencing_token is not None:
        payload["fencing_token"] = fencing_token
    now = now_ms()
    guard = leases.renew_fenced(fencing_token, task_id, now) if fencing_token is not None else None
    done = commit(db, Event("checkpoint.added", workflow_id, task_id, payload=payload), guard=guard,
                  then=[statement, leases.renew_for_task(task_id, now)])
    if done is None:
        assert fencing_token is not None, "an unguarded change always commits"
        raise leases.stale(db, fencing_token)
    if done.replayed:  # numbered by a send whose reply was lost: the number is in the row
        return {"id": checkpoint_id, "sequence": db.scalar("SELECT sequence FROM checkpoints WHERE id = ?",
                                                           (checkpoint_id,))}
    return {"id": checkpoint_id, "sequence": done.rows[0][0]["sequence"]}


def list_checkpoints(
    db: Backend,
    task_id: str,
    types: list[str] | None = None,
    since_sequence: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Oldest first, so ``since_sequence`` plus ``limit`` pages forward through the trail: one batch."""
    reads = Reads(db)
    exists = required(reads, "task", task_id)
    where, params = ["task_id = ?"], [task_id]
    if types:
        where.append(f"checkpoint_type IN ({placeholders(types)})")
        params += types
    if since_sequence is not None:
        where.append("sequence > ?")
        params.append(since_sequence)
    sql = f"SELECT * FROM checkpoints WHERE {' AND '.join(where)} ORDER BY sequence"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = reads.query(sql, params)
    reads.run()
    exists()
    return [decode(r) for r in rows()]


def latest(db: Backend, task_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` checkpoints (all when None), oldest first: what recovery reads."""
    reads = Reads(db)
    exists = required(reads, "task", task_id)
    rows = newest(reads, task_id, limit)
    reads.run()
    exists()
    return rows()


def newest(reads: Reads, task_id: str, limit: int | None = None) -> Later[list[dict[str, Any]]]:
    """The newest ``limit`` checkpoints of a task (all when None), oldest first."""
    rows = reads.query(
        "SELECT * FROM (SELECT * FROM checkpoints WHERE task_id = ? ORDER BY sequence DESC LIMIT ?) ORDER BY sequence",
        (task_id, -1 if limit is None else limit),
    )
    return lambda: [decode(r) for r in rows()]
