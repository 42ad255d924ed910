"""HTTP clients that send too slowly, or leave half-way, cost one log line and nothing else.

A connection is cheap to open and free to keep open: a client that sends a request's
headers (or its body) a byte at a time holds a connection, a task and memory for as long
as it likes, and enough of them exhaust the server. uvicorn bounds the wait between two
requests on a connection (``timeout_keep_alive``) but not the wait for one to arrive, so:

- ``HeaderDeadline``, the h11 protocol uvicorn runs, gives each request's headers
  ``timeout`` seconds from the connection's opening or the request's first byte;
- ``WholeBody``, an ASGI middleware, then gives its body ``timeout`` seconds more and reads
  it whole before the app sees it (at most the SDK's 4 MiB), so the app never waits on a
  client.

A client that misses either deadline is answered ``408`` and dropped with one warning
line; one that hangs up half-way is one line too, where the SDK logged a traceback for
each (its handler calls ``request.body()``, which raises ``ClientDisconnect``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import anyio
import h11
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from caw_lab.errors import CawError

log = logging.getLogger("caw_lab.mcp.http")

DEFAULT_TIMEOUT_S = 10.0
"""Seconds for a request's headers to arrive, and again for its body: a loopback client needs
milliseconds for either, and 4 MiB in ten seconds is a slow network."""

MAX_BODY_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE


def too_slow(what: str, timeout_s: float) -> CawError:
    return CawError(
        "REQUEST_TIMEOUT",
        f"The request's {what} did not arrive within {timeout_s:g} s",
        recoverable=True,
        suggestion="Send the whole request at once; the server drops clients that send slowly.",
    )


def peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


def header_deadline(timeout_s: float) -> type[H11Protocol]:
    """``HeaderDeadline`` with a deadline of ``timeout_s``, as the class ``uvicorn.Config(http=)`` takes."""
    return type("HeaderDeadline", (HeaderDeadline,), {"timeout_s": timeout_s})


class HeaderDeadline(H11Protocol):
    """Closes a connection whose request headers are not whole ``timeout_s`` after it opened or after
    the request's first byte. Once h11 has the headers (its client state leaves ``IDLE``) the deadline
    is off: the body is ``WholeBody``'s, and the time a tool takes to answer is nobody's business here."""

    timeout_s = DEFAULT_TIMEOUT_S

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.received = 0
        self.deadline: asyncio.TimerHandle | None = None
        self.arm()

    def arm(self) -> None:
        if self.deadline is None:
            self.deadline = self.loop.call_later(self.timeout_s, self.expire)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a request's first bytes, or more of its headers
            self.arm()
            self.received += len(data)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self.disarm()
            self.received = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def expire(self) -> None:
        self.deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.received:
            log.warning(
                "dropped %s: %d bytes of request headers in %g s", peer(self.client), self.received, self.timeout_s
            )
            self.transport.write(timed_out(too_slow("headers", self.timeout_s)))
        else:
            log.debug("closed %s: no request within %g s", peer(self.client), self.timeout_s)
        self.transport.close()


def timed_out(error: CawError) -> bytes:
    """A whole 408 response written past h11, which will not answer a request it has not seen."""
    body = error.to_json().encode()
    head = (
        f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class WholeBody:
    """ASGI middleware: reads a request's body whole, within ``timeout_s`` and ``max_bytes``, then hands
    the app a ``receive`` that replays it; a client that hangs up first is logged and forgotten."""

    def __init__(self, app: ASGIApp, timeout_s: float = DEFAULT_TIMEOUT_S, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(413, too_large(self.max_bytes), scope, receive, send)
            return
        body = bytearray()
        try:
            with anyio.fail_after(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        log.warning("%s hung up before its request body was whole", peer(scope.get("client")))
                        return
                    body += message.get("body", b"")
                    if len(body) > self.max_bytes:
                        await self.refuse(413, too_large(self.max_bytes), scope, receive, send)
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            log.warning(
                "dropped %s: %d bytes of request body in %g s", peer(scope.get("client")), len(body), self.timeout_s
            )
            await self.refuse(408, too_slow("body", self.timeout_s), scope, receive, send)
            return
        await self.app(scope, replay(bytes(body), receive), send)

    @staticmethod
    async def refuse(status: int, error: CawError, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse(error.to_dict(), status_code=status, headers={"connection": "close"})(scope, receive, send)


def too_large(limit: int) -> CawError:
    return CawError(
        "PAYLOAD_TOO_LARGE",
        f"The request body is over {limit // (1024 * 1024)} MiB",
        recoverable=True,
        suggestion="Store large content in a file and pass its path or a summary.",
    )


def replay(body: bytes, receive: Receive) -> Callable[[], Any]:
    """A ``receive`` that gives the body read already, then whatever the connection says next (its end)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def next_message() -> Message:
        return pending.pop() if pending else await receive()

    return next_message
