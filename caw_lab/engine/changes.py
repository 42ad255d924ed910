"""How the engine writes: one atomic batch per change, its event inside it.

A change is an optional *guard* (a compare-and-set statement), the event that records
the change, and the statements that follow from it. The event is inserted only if the
guard changed a row, and every following statement runs only if that event exists, so
on SQLite and on D1 alike a change applies whole, with its event, or not at all — and
no interactive transaction is ever needed (DESIGN.md invariants 1 and 2).

Each change carries its own id (the events row's ``correlation_id``), which makes it safe
to send again when a reply is lost on the way back (D1, over the network): there the
event's insert is a tripwire that aborts the batch if that id is already in the feed,
and a failed send looks the id up before giving up. A change therefore applies at most
once however often it is sent, and the caller learns the outcome of the send that
applied it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from caw_lab import correlation
from caw_lab.engine.event_kinds import KINDS
from caw_lab.errors import CawError
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row, Statement

GATE = "EXISTS (SELECT 1 FROM events WHERE correlation_id = ?)"
INSERT_EVENT = ("INSERT INTO events (at, kind, workflow_id, task_id, agent_id, payload, correlation_id) "
                "SELECT ?, ?, ?, ?, ?, ?, ? WHERE")
"""The one statement that writes an event; it ends where its condition goes."""
TRIPWIRED_EVENT = INSERT_EVENT.replace("SELECT ?,", f"SELECT CASE WHEN {GATE} THEN NULL ELSE ? END,", 1)
"""INSERT_EVENT whose ``at`` is NULL, which the NOT NULL column refuses, when the change is in the feed."""


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


class Committed:
    """What a change gave back: its event's ``seq``, and the rows of the guard's and the
    following statements' RETURNING clauses.

    A *replayed* change was applied by an earlier send whose reply was lost: the feed gives
    its ``seq``, but the rows were lost with the reply, so reading them raises
    ``CHANGE_REPLY_LOST``; a caller that reports them reads them back from the tables
    instead (as ``checkpoints.add`` does).
    """

    __slots__ = ("_guard_rows", "_rows", "seq")

    def __init__(self, seq: int, guard_rows: list[Row] | None, rows: list[list[Row]] | None) -> None:
        self.seq = seq
        self._guard_rows = guard_rows
        self._rows = rows

    @property
    def replayed(self) -> bool:
        return self._rows is None

    @property
    def guard_rows(self) -> list[Row]:
        if self._guard_rows is None:
            raise reply_lost(self.seq)
        return self._guard_rows

    @property
    def rows(self) -> list[list[Row]]:
        if self._rows is None:
            raise reply_lost(self.seq)
        return self._rows


def reply_lost(seq: int) -> CawError:
    return CawError("CHANGE_REPLY_LOST", f"The change was applied once (event {seq}), but the database's reply "
                    "with its results was lost", recoverable=False,
                    suggestion=f"Do not repeat it: read the current state (events_list shows event {seq}).")


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
    resendable = db.loses_replies
    event_row = record(event, cid, guarded=guard is not None, resendable=resendable)
    statements = [*([guard] if guard else []), event_row, *(g.bind(cid) for g in then)]
    try:
        results = db.batch(statements, retry=resendable)
    except CawError as err:
        if resendable:
            return applied_before(db, cid, event, err)
        raise
    offset = 1 if guard else 0
    if not results[offset]:
        return None
    return Committed(results[offset][0]["seq"], results[0] if guard else [], results[offset + 1 :])


def record(event: Event, cid: str, *, guarded: bool, resendable: bool) -> Statement:
    """The INSERT of the change's event: only if the guard changed a row, when there is one.

    Resendable, it is also the tripwire: a batch sent again when its change is already in
    the feed inserts its event whether or not the guard matched, with a NULL ``at`` (NOT
    NULL), and that failure rolls the whole batch back, guard included. A backend that
    never loses a reply (SQLite) is spared the lookup (and the temporary table SQLite
    builds for an INSERT reading its own table).
    """
    condition = "changes() > 0" if guarded else "1"
    if not resendable:
        return Statement(f"{INSERT_EVENT} {condition} RETURNING seq", event.values(cid))
    condition = f"{condition} OR {GATE}" if guarded else condition
    params = (cid, *event.values(cid), *((cid,) if guarded else ()))
    return Statement(f"{TRIPWIRED_EVENT} {condition} RETURNING seq", params)


def applied_before(db: Backend, cid: str, event: Event, err: CawError) -> Committed:
    """The change as an earlier send applied it, if one did (its reply lost, its repeat
    stopped by the tripwire); else ``err``, naming the change id when the outcome is unknown."""
    try:
        row = db.one("SELECT seq, kind FROM events WHERE correlation_id = ?", (cid,))
    except CawError:
        err.details.setdefault("change_id", cid)
        raise err from None
    if row is None or row["kind"] != event.kind:
        raise err
    return Committed(row["seq"], None, None)
