"""How the engine writes: one atomic batch per change, its event inside it.

A change is an optional *guard* (a compare-and-set statement), the event that records
the change, and the statements that follow from it. The event is inserted only if the
guard changed a row, and every following statement runs only if that event exists, so
on SQLite and on D1 alike a change applies whole, with its event, or not at all — and
no interactive transaction is ever needed (DESIGN.md invariants 1 and 2).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from caw_lab import correlation
from caw_lab.engine.event_kinds import KINDS
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row, Statement

GATE = "EXISTS (SELECT 1 FROM events WHERE correlation_id = ?)"
INSERT_EVENT = ("INSERT INTO events (at, kind, workflow_id, task_id, agent_id, payload, correlation_id) "
                "SELECT ?, ?, ?, ?, ?, ?, ? WHERE")
"""The one statement that writes an event; it ends where its condition goes."""


@dataclass(frozen=True)
class Event:
    kind: str
    workflow_id: str | None = None
    task_id: str | None = None
    agent_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"event kind {self.kind!r} is not declared in engine.event_kinds")

    def values(self, correlation_id: str) -> tuple[Any, ...]:
        """The row of INSERT_EVENT, stamped now."""
        payload = json.dumps(self.payload, allow_nan=False)
        return (now_ms(), self.kind, self.workflow_id, self.task_id, self.agent_id, payload, correlation_id)


@dataclass(frozen=True)
class Gated:
    """A statement that must run only when its change's event was written.

    Its ``sql`` ends where a condition goes; ``bind`` appends the gate (and then any
    RETURNING clause), so a gated statement cannot be built without it.
    """

    sql: str
    params: tuple[Any, ...] = ()
    returning: str = ""

    def bind(self, correlation_id: str) -> Statement:
        tail = f" RETURNING {self.returning}" if self.returning else ""
        return Statement(f"{self.sql} {GATE}{tail}", (*self.params, correlation_id))


@dataclass(frozen=True)
class Committed:
    seq: int
    guard_rows: list[Row]
    rows: list[list[Row]]


def insert(table: str, row: dict[str, Any], returning: str = "") -> Gated:
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return Gated(f"INSERT INTO {table} ({cols}) SELECT {marks} WHERE", tuple(row.values()), returning)


def update(table: str, values: dict[str, Any], where: str, params: Sequence[Any] = (), returning: str = "") -> Gated:
    sets = ", ".join(f"{k} = ?" for k in values)
    return Gated(f"UPDATE {table} SET {sets} WHERE ({where}) AND", (*values.values(), *params), returning)


def delete(table: str, where: str, params: Sequence[Any] = ()) -> Gated:
    return Gated(f"DELETE FROM {table} WHERE ({where}) AND", tuple(params))


def raw(sql_ready_for_condition: str, params: Sequence[Any] = ()) -> Gated:
    """For statements the builders cannot express; the SQL must end where ``AND cond`` or ``WHERE cond`` fits."""
    return Gated(sql_ready_for_condition, tuple(params))


def also(event: Event, *, if_changed: bool = False) -> Gated:
    """A further event inside the change being committed: a consequence with a kind of its own
    (a retry scheduled, an alert raised), written only if the change's main event is. With
    ``if_changed`` it is written only if the statement just before it changed a row too. Its
    id is a change id of its own, so it carries the call's correlation id like the main event."""
    condition = " changes() > 0 AND" if if_changed else ""
    return Gated(INSERT_EVENT + condition, event.values(change_id()))


def change_id() -> str:
    """Unique to the change, as the gate needs; it starts with the correlation id of the tool
    call making it, if any (``<call id>.<suffix>``), so a call's events can be found."""
    suffix = secrets.token_hex(8)  # 64 bits: ids made outside a call must not collide in a long-lived feed
    return f"{call}.{suffix}" if (call := correlation.current()) else suffix


def commit(
    db: Backend,
    event: Event,
    *,
    guard: Statement | None = None,
    then: Sequence[Gated] = (),
) -> Committed | None:
    """Apply one change atomically; ``None`` when the guard matched no row."""
    cid = change_id()
    condition = "changes() > 0" if guard else "1"
    record = Statement(f"{INSERT_EVENT} {condition} RETURNING seq", event.values(cid))
    statements = ([guard] if guard else []) + [record] + [g.bind(cid) for g in then]
    results = db.batch(statements)
    offset = 1 if guard else 0
    if not results[offset]:
        return None
    return Committed(results[offset][0]["seq"], results[0] if guard else [], results[offset + 1 :])
