"""Delivering alerts: a background thread follows the change feed and hands each new alert
to every sink, in order. A sink that fails is logged and does not hold up the others."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from caw_lab.alerts.base import Alert, Sink
from caw_lab.alerts.log import LogSink
from caw_lab.alerts.webhook import WebhookSink
from caw_lab.engine import alerts
from caw_lab.errors import CawError
from caw_lab.store import open_backend

logger = logging.getLogger("caw_lab.alerts")


class AlertPump:
    def __init__(self, db: str, sinks: Sequence[Sink], workflow_id: str | None = None, since_seq: int = 0,
                 interval_s: float = 0.5) -> None:
        self.db = open_backend(db)
        self.sinks = list(sinks)
        self.workflow_id = workflow_id
        self.cursor = since_seq
        self.interval_s = interval_s
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.main, daemon=True, name="caw-alerts")
        self.thread.start()

    @classmethod
    def for_settings(cls, db: str, settings: Any, workflow_id: str | None, since_seq: int) -> AlertPump | None:
        """The pump an execution's ``alerts`` settings ask for; None when they ask for no sink."""
        sinks: list[Sink] = [LogSink()] if settings.log else []
        if settings.webhook:
            sinks.append(WebhookSink(settings.webhook, attempts=settings.webhook_attempts))
        return cls(db, sinks, workflow_id, since_seq) if sinks else None

    def main(self) -> None:
        while not self.closing.wait(self.interval_s):
            self.pump()
        self.pump()
        self.db.close()

    def pump(self) -> int:
        """Deliver every alert after the cursor; returns how many."""
        found = alerts.recent(self.db, self.cursor, self.workflow_id)
        for row in found:
            self.cursor = row["seq"]
            alert = Alert.from_dict(row)
            for sink in self.sinks:
                try:
                    sink.send(alert)
                except (CawError, OSError) as exc:
                    logger.error("alert %s not delivered by %s: %s", alert.seq, type(sink).__name__, exc)
        return len(found)

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is left, then stop."""
        self.closing.set()
        self.thread.join(timeout_s)
