"""Reading the change feed. Writing happens only inside ``changes.commit``."""

from __future__ import annotations

from typing import Any

from caw_lab.engine.rows import decode
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Later, Reads


def since(
    db: Backend,
    seq: int = 0,
    *,
    workflow_id: str | None = None,
    task_id: str | None = None,
    kinds: list[str] | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """Events after ``seq`` in order, plus the cursor to pass next time (``following``, read alone)."""
    reads = Reads(db)
    feed = following(reads, seq, workflow_id=workflow_id, task_id=task_id, kinds=kinds, limit=limit)
    reads.run()
    return feed()


def following(
    reads: Reads,
    seq: int = 0,
    *,
    workflow_id: str | None = None,
    task_id: str | None = None,
    kinds: list[str] | None = None,
    limit: int = 1000,
) -> Later[dict[str, Any]]:
    """Events after ``seq`` in order, plus the cursor to pass next time.

    The cursor is the last event returned, or the feed's head when nothing matched,
    so a follower filtered to one workflow does not re-scan others' events forever. The
    head and the events are read in one batch (one snapshot), and only events up to that head
    are read: a head read after the events could step over an event committed in between.
    """
    head = reads.scalar(HEAD)
    where, params = ["seq > ?", f"seq <= ({HEAD})"], [seq]
    for column, value in (("workflow_id", workflow_id), ("task_id", task_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params += kinds
    rows = reads.query(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*params, limit])

    def value() -> dict[str, Any]:
        events = [decode(r) for r in rows()]
        cursor = events[-1]["seq"] if len(events) == limit else max(head() or 0, seq)
        return {"events": events, "cursor": cursor, "head": head() or 0}

    return value


def of_call(db: Backend, correlation_id: str) -> list[dict[str, Any]]:
    """The events one tool call wrote, in order: their correlation ids start with its id and a dot
    (a range, so the index serves it)."""
    rows = db.query("SELECT * FROM events WHERE correlation_id >= ? AND correlation_id < ? ORDER BY seq",
                    (f"{correlation_id}.", f"{correlation_id}/"))
    return [decode(r) for r in rows]


HEAD = "SELECT COALESCE(MAX(seq), 0) FROM events"
"""The change feed's head: the last event's ``seq``, 0 before the first."""


def head_seq(db: Backend) -> int:
    return db.scalar(HEAD) or 0
