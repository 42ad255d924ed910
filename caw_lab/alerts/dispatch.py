"""Delivering alerts: a background thread follows the change feed and hands each new alert
to every sink, each sink in order and in a thread of its own, so a slow or failing sink
holds up no other, and the run that owns the pump waits a bounded time at most.

An alert a sink could not take is logged, one line with the alert's correlation id, and
recorded beside it in the feed as an ``alert.undelivered`` event naming the sink and why
(engine/alerts.py). ``close`` drains what is left for at most ``drain_s`` seconds: no
delivery is started past that deadline, and a sink still busy then (a webhook that
accepted the connection and never answers) is abandoned, its alert in flight and every
one after it recorded as undelivered. "Undelivered" means not confirmed: an abandoned
request may still land afterwards.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from caw_lab import correlation
from caw_lab.alerts.base import Alert, Sink
from caw_lab.alerts.log import LogSink
from caw_lab.alerts.webhook import WebhookSink
from caw_lab.engine import alerts
from caw_lab.store import open_backend

logger = logging.getLogger("caw_lab.alerts")
DRAIN_S = 3.0
ABANDONED = "still being sent when the drain time ran out"
NOT_TRIED = "not tried: the drain time ran out"


class AlertPump:
    def __init__(
        self,
        db: str,
        sinks: Sequence[Sink],
        workflow_id: str | None = None,
        since_seq: int = 0,
        interval_s: float = 0.5,
        drain_s: float = DRAIN_S,
    ) -> None:
        self.db = open_backend(db)
        self.workflow_id = workflow_id
        self.cursor = since_seq
        self.interval_s = interval_s
        self.drain_s = drain_s
        self.deadline: float | None = None
        """Set by ``close``: no delivery starts after it."""
        self.lock = threading.Lock()
        """Held to use the backend and the couriers' state; never while a sink sends."""
        self.couriers = [Courier(sink, self) for sink in sinks]
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.main, daemon=True, name="caw-alerts")
        self.thread.start()

    @classmethod
    def for_settings(cls, db: str, settings: Any, workflow_id: str | None, since_seq: int) -> AlertPump | None:
        """The pump an execution's ``alerts`` settings ask for; None when they ask for no sink."""
        sinks: list[Sink] = [LogSink()] if settings.log else []
        if settings.webhook:
            sinks.append(
                WebhookSink(
                    settings.webhook, attempts=settings.webhook_attempts, timeout_s=settings.webhook_timeout_ms / 1000
                )
            )
        return cls(db, sinks, workflow_id, since_seq, drain_s=settings.drain_ms / 1000) if sinks else None

    def main(self) -> None:
        while not self.closing.wait(self.interval_s):
            self.pump()
        while self.pump():
            pass
        for courier in self.couriers:
            courier.queue.put(None)

    def pump(self) -> int:
        """Hand every alert after the cursor (up to a page) to every sink's courier; how many."""
        with self.lock:
            found = alerts.recent(self.db, self.cursor, self.workflow_id)
        for row in found:
            for courier in self.couriers:
                courier.queue.put(row)
            self.cursor = row["seq"]
        return len(found)

    def attempt(self, sink: Sink, row: dict[str, Any]) -> str | None:
        """Why ``sink`` could not take the alert, or None when it did."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return NOT_TRIED
        try:
            sink.send(Alert.from_dict(row), self.deadline)
        except Exception as exc:  # a sink's failure is recorded, never raised into the pump
            return getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return None

    def record(self, row: dict[str, Any], sink: Sink, problem: str) -> None:
        """One log line and the ``alert.undelivered`` event; the caller holds the lock."""
        cid = row.get("correlation_id")
        with correlation.bound(cid):
            logger.error(
                "alert %s [%s] (correlation id %s) not delivered to %s: %s",
                row["seq"],
                row["alert"],
                cid,
                sink.name,
                problem,
            )
        try:
            alerts.undelivered(self.db, row, sink.name, problem)
        except Exception as exc:  # the log line above is then the only trace; say so
            logger.error("alert %s: its undelivered state could not be recorded: %s", row["seq"], exc)

    def close(self, timeout_s: float | None = None) -> None:
        """Deliver what is left within the drain time (``timeout_s`` when given), then stop;
        what is still unsent then is recorded undelivered."""
        self.deadline = time.monotonic() + (self.drain_s if timeout_s is None else timeout_s)
        self.closing.set()
        for thread in [self.thread, *(c.thread for c in self.couriers)]:
            thread.join(max(0.0, self.deadline - time.monotonic()))
        with self.lock:
            for courier in self.couriers:
                if courier.thread.is_alive():
                    courier.abandon()
            self.db.close()


class Courier:
    """One sink's deliveries, in feed order, in a thread of its own."""

    def __init__(self, sink: Sink, pump: AlertPump) -> None:
        self.sink = sink
        self.pump = pump
        self.queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.current: dict[str, Any] | None = None
        self.abandoned = False
        self.thread = threading.Thread(target=self.main, daemon=True, name=f"caw-alerts-{sink.name}")
        self.thread.start()

    def main(self) -> None:
        while (row := self.queue.get()) is not None:
            with self.pump.lock:
                if self.abandoned:
                    return
                self.current = row
            problem = self.pump.attempt(self.sink, row)
            with self.pump.lock:
                if self.abandoned:
                    return
                self.current = None
                if problem:
                    self.pump.record(row, self.sink, problem)

    def abandon(self) -> None:
        """Give up on the alert in flight and those queued behind it; the caller holds the lock."""
        self.abandoned = True
        if self.current is not None:
            self.pump.record(self.current, self.sink, ABANDONED)
        while True:
            try:
                row = self.queue.get_nowait()
            except queue.Empty:
                return
            if row is not None:
                self.pump.record(row, self.sink, NOT_TRIED)
