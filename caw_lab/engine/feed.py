"""Events that a change writes besides its own: one per consequence, in the same batch.

A change has one main event (``changes.commit``); when it also retries a task, dead-letters
another and raises an alert, each consequence gets its own event so followers of a task
or of alerts see it under its own kind. Each is gated like any follow-up statement: it is
written only if the change's main event was.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from caw_lab.engine.changes import Gated, raw
from caw_lab.ids import now_ms


def also(
    kind: str,
    workflow_id: str | None = None,
    task_id: str | None = None,
    agent_id: str | None = None,
    payload: dict[str, Any] | None = None,
    *,
    only_if_changed: bool = False,
) -> Gated:
    """An extra event of ``kind`` inside the change being committed; with ``only_if_changed``,
    only if the statement just before it changed a row (a consequence that may have gone)."""
    condition = "WHERE changes() > 0 AND" if only_if_changed else "WHERE"
    return raw(
        "INSERT INTO events (at, kind, workflow_id, task_id, agent_id, payload, correlation_id) "
        f"SELECT ?, ?, ?, ?, ?, ?, ? {condition}",
        (now_ms(), kind, workflow_id, task_id, agent_id, json.dumps(payload or {}), secrets.token_hex(8)),
    )
