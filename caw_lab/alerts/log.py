"""Alerts to Python logging (logger ``caw_lab.alerts``), at the level of their severity, each
record carrying the alert's correlation id (which starts with the id of the tool call that
raised it) and the ids it is about, as fields a JSON log line shows (``telemetry.logs``)."""

from __future__ import annotations

import logging

from caw_lab.alerts.base import Alert, Sink
from caw_lab.telemetry.logs import FIELDS

LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
logger = logging.getLogger("caw_lab.alerts")


class LogSink(Sink):
    def __init__(self, log: logging.Logger = logger) -> None:
        self.log = log

    def send(self, alert: Alert, deadline: float | None = None) -> None:
        self.log.log(LEVELS.get(alert.severity, logging.WARNING), "[%s] %s", alert.alert, alert.message,
                     extra={"caw_alert": alert.to_dict(), FIELDS: fields(alert)})


def fields(alert: Alert) -> dict[str, object]:
    return {"alert": alert.alert, "severity": alert.severity, "seq": alert.seq,
            "correlation_id": alert.correlation_id, "workflow_id": alert.workflow_id,
            "task_id": alert.task_id, "agent_id": alert.agent_id}
