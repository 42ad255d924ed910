"""Alerts POSTed as JSON to a URL, retried with exponential backoff and jitter.

A connection error, a timeout, 429 or a 5xx is retried up to ``attempts`` times in all;
any other 4xx means the receiver refuses this alert, so it is not retried.
"""

from __future__ import annotations

import random
import time

import httpx

from caw_lab.alerts.base import Alert, Sink
from caw_lab.errors import CawError

RETRY_STATUSES = frozenset({408, 425, 429})


class WebhookSink(Sink):
    def __init__(self, url: str, attempts: int = 4, backoff_s: float = 0.5, timeout_s: float = 5.0) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def send(self, alert: Alert) -> None:
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = httpx.post(self.url, json=alert.to_dict(), timeout=self.timeout_s)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    break
            if attempt < self.attempts:
                time.sleep(self.delay_s(attempt))
        raise CawError("WEBHOOK_FAILED", f"Alert {alert.seq} not delivered to {self.url}: {problem}", recoverable=True,
                       suggestion="Check the webhook URL and that its receiver answers 2xx.")

    def delay_s(self, attempt: int) -> float:
        """``backoff_s * 2**(attempt-1)``, less up to half of it at random."""
        nominal = self.backoff_s * 2 ** (attempt - 1)
        return nominal * (1 - 0.5 * random.random())
