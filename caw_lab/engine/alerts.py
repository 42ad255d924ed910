"""Alerts: events of kind ``alert.raised`` that someone should look at.

An alert is written in the batch of the change that caused it (an agent lost, a task
dead-lettered, a workflow failed), so it exists exactly when its cause does. Sinks
(caw_lab.alerts: log, webhook, notebook) read them from the change feed afterwards. An
alert a sink could not take gets an ``alert.undelivered`` event beside it, written
under the alert's correlation id, so ``events.of_call`` finds the two together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from caw_lab import correlation
from caw_lab.engine.changes import Event, Gated, also, commit
from caw_lab.engine.rows import decode
from caw_lab.store.backend import Backend

KIND = "alert.raised"
UNDELIVERED = "alert.undelivered"
Severity = Literal["info", "warning", "error"]


def alert(
    name: str,
    message: str,
    severity: Severity = "warning",
    *,
    workflow_id: str | None = None,
    task_id: str | None = None,
    agent_id: str | None = None,
    **detail: Any,
) -> Gated:
    """The alert event ``name`` (``agent_lost``, ``task_dead_lettered``...) for a change's batch."""
    payload = {"alert": name, "severity": severity, "message": message, **detail}
    return also(Event(KIND, workflow_id, task_id, agent_id, payload))


def recent(db: Backend, since_seq: int = 0, workflow_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Alerts after ``since_seq``, oldest first, each flattened to what a person reads."""
    where, params = ["kind = ?", "seq > ?"], [KIND, since_seq]
    if workflow_id:
        where.append("workflow_id = ?")
        params.append(workflow_id)
    rows = db.query(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*params, limit])
    return [flatten(decode(r)) for r in rows]


def flatten(event: dict[str, Any]) -> dict[str, Any]:
    payload = dict(event.get("payload") or {})
    return {
        "seq": event["seq"], "at": event["at"], "alert": payload.pop("alert", "alert"),
        "severity": payload.pop("severity", "warning"), "message": payload.pop("message", ""),
        "workflow_id": event["workflow_id"], "task_id": event["task_id"], "agent_id": event["agent_id"],
        "detail": payload, "correlation_id": event["correlation_id"],
    }


def undelivered(db: Backend, alert: Mapping[str, Any], sink: str, error: str) -> int:
    """Record that ``alert`` (as ``recent`` returns it) did not reach ``sink``, and why; returns the event's seq."""
    payload = {"alert_seq": alert["seq"], "alert": alert["alert"], "sink": sink, "error": error}
    with correlation.bound(alert.get("correlation_id")):
        done = commit(db, Event(UNDELIVERED, alert.get("workflow_id"), alert.get("task_id"), alert.get("agent_id"),
                                payload))
    assert done is not None  # no guard: the event is always written
    return done.seq
