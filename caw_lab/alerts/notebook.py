"""Alerts for a notebook: poll ``recent`` with a cursor, or ``subscribe`` a callback.

``recent(db, since_seq)`` returns the alerts after ``since_seq`` (oldest first, each with
its ``seq`` to pass next time); ``db`` is a ``caw_lab.Client`` or a backend. ``subscribe``
runs a callback (e.g. one showing a toast) for each new alert until the returned pump is
closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caw_lab.alerts.base import Alert, CallbackSink
from caw_lab.alerts.dispatch import AlertPump
from caw_lab.engine import alerts
from caw_lab.engine.events import head_seq
from caw_lab.store.backend import Backend


def backend_of(db: Any) -> Backend:
    return db.db if hasattr(db, "db") and isinstance(db.db, Backend) else db


def recent(db: Any, since_seq: int = 0, workflow_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    return alerts.recent(backend_of(db), since_seq, workflow_id, limit)


def subscribe(db: Any, callback: Callable[[Alert], Any], workflow_id: str | None = None,
              since_seq: int | None = None, interval_s: float = 1.0) -> AlertPump:
    """Call ``callback`` for each alert raised from now on (or after ``since_seq``)."""
    backend = backend_of(db)
    target = getattr(backend, "path", None) or backend.url
    start = head_seq(backend) if since_seq is None else since_seq
    return AlertPump(target, [CallbackSink(callback)], workflow_id, start, interval_s)
