"""Alerts POSTed as JSON to a URL, retried with exponential backoff and jitter, within bounds.

A connection error, a timeout, 429 or a 5xx is retried up to ``attempts`` times in all;
any other 4xx means the receiver refuses this alert, so it is not retried. Each attempt
waits at most ``timeout_s`` (2 s) for each step (connect, send, each read), and none is
started, nor a backoff slept, past the deadline the pump gives: a receiver that accepts
connections and never answers costs a run at most the pump's drain time.
"""

from __future__ import annotations

import random
import time
from urllib.parse import urlsplit

import httpx

from caw_lab.alerts.base import Alert, Sink
from caw_lab.errors import CawError

RETRY_STATUSES = frozenset({408, 425, 429})
TIMEOUT_S = 2.0


class WebhookSink(Sink):
    def __init__(self, url: str, attempts: int = 4, backoff_s: float = 0.5, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        """Scheme and host only: a webhook's path or query is often its secret (Slack's, for one)."""
        parts = urlsplit(self.url)
        return f"webhook {parts.scheme}://{parts.hostname}"

    def send(self, alert: Alert, deadline: float | None = None) -> None:
        problem = "no time left for a first attempt"
        for attempt in range(1, self.attempts + 1):
            timeout = self.timeout_s if deadline is None else min(self.timeout_s, deadline - time.monotonic())
            if timeout <= 0:
                break
            try:
                response = httpx.post(self.url, json=alert.to_dict(), timeout=timeout)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    break
            if attempt < self.attempts:
                delay = self.delay_s(attempt)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    break
                time.sleep(delay)
        raise CawError(
            "WEBHOOK_FAILED",
            f"Alert {alert.seq} not delivered to {self.name}: {problem}",
            recoverable=True,
            suggestion="Check the webhook URL and that its receiver answers 2xx.",
        )

    def delay_s(self, attempt: int) -> float:
        """``backoff_s * 2**(attempt-1)``, less up to half of it at random."""
        nominal = self.backoff_s * 2 ** (attempt - 1)
        return nominal * (1 - 0.5 * random.random())
