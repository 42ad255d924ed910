"""Reading the change feed. Writing happens only inside ``changes.commit``."""

from __future__ import annotations

from typing import Any

from caw_lab.engine.rows import decode
from caw_lab.store.backend import Backend


def since(
    db: Backend,
    seq: int = 0,
    *,
    workflow_id: str | None = None,
    task_id: str | None = None,
    kinds: list[str] | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """Events after ``seq`` in order, plus the cursor to pass next time.

    The cursor is the last event returned, or the feed's head when nothing matched,
    so a follower filtered to one workflow does not re-scan others' events forever. The
    head is read before the events, and only events up to it are read: a writer may commit
    between the two statements, and a head read after could step over its event.
    """
    head = head_seq(db)  # first: an event committed after it is left for the next call, never skipped
    where, params = ["seq > ?", "seq <= ?"], [seq, head]
    for column, value in (("workflow_id", workflow_id), ("task_id", task_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params += kinds
    rows = db.query(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*params, limit])
    events = [decode(r) for r in rows]
    cursor = events[-1]["seq"] if len(events) == limit else max(head, seq)
    return {"events": events, "cursor": cursor, "head": head}


def of_call(db: Backend, correlation_id: str) -> list[dict[str, Any]]:
    """The events one tool call wrote, in order: their correlation ids start with its id and a dot
    (a range, so the index serves it)."""
    rows = db.query("SELECT * FROM events WHERE correlation_id >= ? AND correlation_id < ? ORDER BY seq",
                    (f"{correlation_id}.", f"{correlation_id}/"))
    return [decode(r) for r in rows]


def head_seq(db: Backend) -> int:
    return db.scalar("SELECT COALESCE(MAX(seq), 0) FROM events") or 0
