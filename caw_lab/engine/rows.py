"""Rows as the tools return them: JSON columns decoded, flags as booleans."""

from __future__ import annotations

import json
from typing import Any

from caw_lab.errors import not_found
from caw_lab.store.backend import Backend, Row
from caw_lab.store.reads import Later, Reads

JSON_COLUMNS = frozenset(
    {
        "initial_plan", "config", "plan", "context", "context_from", "outcome_detail",
        "files_likely_affected", "detail", "files_changed", "capabilities", "metadata",
        "template", "body", "payload", "retry_policy", "required_capabilities",
    }
)
BOOL_COLUMNS = frozenset({"auto_create_workspaces", "is_daemon", "rolled_back"})
TABLES = {
    "workflow": "workflows", "task": "tasks", "checkpoint": "checkpoints", "workspace": "workspaces",
    "repository": "repositories", "template": "workflow_templates", "agent": "agents",
    "message": "messages", "session": "sessions", "memory": "memories", "dead_letter": "dead_letters",
}


def encode(value: Any) -> str | None:
    """JSON text for a column; NaN or Infinity raise rather than store text no reader accepts
    (the tools refuse them first, so reaching this is a bug, not bad input)."""
    return None if value is None else json.dumps(value, allow_nan=False)


def decode(row: Row) -> dict[str, Any]:
    out = dict(row)
    for key, value in row.items():
        if key in JSON_COLUMNS and isinstance(value, str):
            out[key] = json.loads(value)
        elif key in BOOL_COLUMNS and value is not None:
            out[key] = bool(value)
    return out


def fetch(db: Backend, kind: str, ident: str) -> dict[str, Any]:
    """The row of ``kind`` with id ``ident``, or the kind's NOT_FOUND error."""
    row = db.one(f"SELECT * FROM {TABLES[kind]} WHERE id = ?", (ident,))
    if row is None:
        raise not_found(kind, ident)
    return decode(row)


def require(db: Backend, kind: str, ident: str) -> None:
    """Raise the kind's NOT_FOUND unless ``ident`` exists; unlike ``fetch`` it reads no
    columns, so checking a workflow id does not decode its (possibly huge) plan."""
    if db.one(f"SELECT 1 AS found FROM {TABLES[kind]} WHERE id = ?", (ident,)) is None:
        raise not_found(kind, ident)


def fetched(reads: Reads, kind: str, ident: str) -> Later[dict[str, Any]]:
    """``fetch`` as part of a batch of reads: the decoded row, or NOT_FOUND, once it has run."""
    row = reads.one(f"SELECT * FROM {TABLES[kind]} WHERE id = ?", (ident,))

    def value() -> dict[str, Any]:
        found = row()
        if found is None:
            raise not_found(kind, ident)
        return decode(found)

    return value


def required(reads: Reads, kind: str, ident: str) -> Later[None]:
    """``require`` as part of a batch of reads: NOT_FOUND, once it has run, unless ``ident`` exists.
    Call it before using the batch's other values, which are empty for a missing id."""
    row = reads.one(f"SELECT 1 AS found FROM {TABLES[kind]} WHERE id = ?", (ident,))

    def value() -> None:
        if row() is None:
            raise not_found(kind, ident)

    return value


def placeholders(values: list[Any] | tuple[Any, ...]) -> str:
    return ", ".join("?" for _ in values)
