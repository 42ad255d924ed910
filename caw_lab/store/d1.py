"""Cloudflare D1 over its REST API, for agents on many machines sharing one database.

D1 refuses BEGIN/SAVEPOINT, and the engine never needs them: a change is one batch
(``{"batch": [...]}``), which D1 applies as one transaction. Reads are retried on
429/5xx/network errors, and so are the batches their caller marks ``retry``: those of
``engine.changes``, which carry their change id and stop themselves when it is already in
the feed, so a reply lost after D1 applied the change cannot make it apply twice. Any
other write is sent again only when the connection failed before it was sent.

D1's JSON carries numbers as doubles, so an integer parameter beyond 2**53 would reach
the database as another number: such a parameter is refused before anything is sent.
"""

from __future__ import annotations

import functools
import os
import ssl
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import httpx

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend, Row, Statement, reads

DEFAULT_API = "https://api.cloudflare.com/client/v4"
RETRIES = 4
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_INTEGER = 2**53 - 1


class D1Backend(Backend):
    loses_replies = True
    remote = True

    def __init__(self, account_id: str, database_id: str, token: str, api: str = DEFAULT_API) -> None:
        self.url = f"d1://{account_id}/{database_id}"
        self.endpoint = f"{api.rstrip('/')}/accounts/{account_id}/d1/database/{database_id}/query"
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            verify=_tls(),
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_keepalive_connections=4),
        )

    @classmethod
    def from_url(cls, url: str) -> D1Backend:
        """``d1://ACCOUNT/DATABASE``; the token from ``CAW_D1_TOKEN``, the base URL from ``CAW_D1_API``."""
        parsed = urlparse(url)
        database = parsed.path.strip("/")
        if parsed.scheme != "d1" or not parsed.netloc or not database or "/" in database:
            raise CawError("INVALID_INPUT", f"Not a D1 URL: {url!r}", recoverable=True,
                           suggestion="Use d1://ACCOUNT_ID/DATABASE_ID.")
        token = os.environ.get("CAW_D1_TOKEN", "")
        if not token:
            raise CawError("D1_TOKEN_MISSING", "CAW_D1_TOKEN is not set", recoverable=True,
                           suggestion="Export CAW_D1_TOKEN with an API token that may edit D1.")
        return cls(parsed.netloc, database, token, os.environ.get("CAW_D1_API", DEFAULT_API))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._post({"sql": sql, "params": _exact(params)}, reads(sql))[0]

    def batch(self, statements: Sequence[Statement], *, retry: bool = False) -> list[list[Row]]:
        body = {"batch": [{"sql": s.sql, "params": _exact(s.params)} for s in statements]}
        return self._post(body, retry or all(reads(s.sql) for s in statements))

    def close(self) -> None:
        self.http.close()

    def _post(self, body: dict[str, Any], idempotent: bool) -> list[list[Row]]:
        if self.http.is_closed:
            raise CawError("DATABASE_ERROR", "Cannot operate on a closed D1 connection", recoverable=False,
                           suggestion="Open the database again (caw_lab.connect).")
        for attempt in range(RETRIES):
            try:
                response = self.http.post(self.endpoint, json=body)
            except httpx.TransportError as exc:
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if not (idempotent or unsent) or attempt == RETRIES - 1:
                    raise CawError("D1_UNREACHABLE", f"D1 request failed: {exc}", recoverable=True,
                                   suggestion="Check the network and CAW_D1_API, then retry.") from exc
            else:
                if response.status_code not in RETRY_STATUSES or not idempotent or attempt == RETRIES - 1:
                    return _results(response)
            time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle takes longer than a D1 round trip."""
    return httpx.create_ssl_context()


def _exact(params: Sequence[Any]) -> list[Any]:
    for value in params:
        if isinstance(value, int) and abs(value) > SAFE_INTEGER:
            raise CawError("INVALID_INPUT", f"{value} is too large for D1, whose JSON carries integers exactly "
                           f"only up to {SAFE_INTEGER}", recoverable=True, suggestion="Use a smaller number.")
    return list(params)


def _results(response: httpx.Response) -> list[list[Row]]:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code == 401 or response.status_code == 403:
        raise CawError("D1_UNAUTHORIZED", _message(payload, response), recoverable=False,
                       suggestion="Check CAW_D1_TOKEN: it must be allowed to edit this D1 database.")
    if not payload.get("success"):
        message = _message(payload, response)
        if "constraint failed" in message:
            raise CawError("CONSTRAINT_VIOLATION", message, recoverable=False, suggestion="Check ids and unique names.")
        raise CawError("DATABASE_ERROR", message, recoverable=response.status_code >= 500,
                       suggestion="D1 refused the statement; the change was not applied.")
    return [item.get("results") or [] for item in payload["result"]]


def _message(payload: dict[str, Any], response: httpx.Response) -> str:
    errors = payload.get("errors") or [{"message": response.text[:500] or f"HTTP {response.status_code}"}]
    return "; ".join(str(e.get("message")) for e in errors)
