"""Where alerts go: the log, a webhook, a notebook.

Alerts are ``alert.raised`` events (engine/alerts.py), written in the same batch as their
cause. ``dispatch.AlertPump`` follows the change feed and hands each new alert to its
sinks; ``notebook.recent`` lets a widget poll them.
"""

from caw_lab.alerts.base import Alert, CallbackSink, Sink
from caw_lab.alerts.dispatch import AlertPump
from caw_lab.alerts.log import LogSink
from caw_lab.alerts.webhook import WebhookSink

__all__ = ["Alert", "AlertPump", "CallbackSink", "LogSink", "Sink", "WebhookSink"]
