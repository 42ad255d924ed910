"""Alerts to Python logging (logger ``caw_lab.alerts``), at the level of their severity."""

from __future__ import annotations

import logging

from caw_lab.alerts.base import Alert, Sink

LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
logger = logging.getLogger("caw_lab.alerts")


class LogSink(Sink):
    def __init__(self, log: logging.Logger = logger) -> None:
        self.log = log

    def send(self, alert: Alert, deadline: float | None = None) -> None:
        self.log.log(LEVELS.get(alert.severity, logging.WARNING), "[%s] %s", alert.alert, alert.message,
                     extra={"caw_alert": alert.to_dict()})
