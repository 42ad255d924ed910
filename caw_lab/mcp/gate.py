"""Who gets through to the HTTP server: the right Host, an allowed Origin, the bearer token.

DESIGN.md invariant 7. A web page the user opens can send requests to any loopback port,
and with DNS rebinding its own name (``evil.example``) can resolve to 127.0.0.1, so the
address a connection arrives on proves nothing. Every HTTP request, ``/health`` included,
passes three checks in order before the app sees it:

1. ``Host`` names this server: the address it is bound to or a loopback host, in any
   spelling (``loopback.is_loopback``), with the port it listens on; or a host the user
   allowed (``--allow-host``). Else ``421`` ``HOST_NOT_ALLOWED``.
2. ``Origin``, when a browser sends one, is a loopback origin (any port) or one the user
   allowed (``--allow-origin``). Else ``403`` ``ORIGIN_NOT_ALLOWED``.
3. ``Authorization: Bearer <token>``, compared in constant time. Else ``401``
   ``UNAUTHORIZED``.

A refused request is answered before its body is read, so it can change nothing. The
SDK's own DNS-rebinding check (``TransportSecuritySettings``) is switched off in favour of
this one: it compares header strings with a fixed list, so ``127.0.0.2`` or
``[0:0:0:0:0:0:0:1]`` are unknown to it, and it guards ``/mcp`` alone.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from caw_lab.errors import CawError
from caw_lab.mcp.loopback import is_loopback, same_host, split_host_port, url_of

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Access:
    """What the gate accepts: the server's own address, its token, and what the user allowed besides."""

    host: str
    port: int
    token: str
    allowed_hosts: Sequence[str] = ()
    """Extra ``host[:port]`` values for ``Host`` (a bare host means with the server's port)."""
    allowed_origins: Sequence[str] = ()
    """Extra origins, ``scheme://host[:port]``."""

    def host_allowed(self, header: str | None) -> bool:
        found = split_host_port(header or "", DEFAULT_PORTS["http"])
        if found is None:
            return False
        host, port = found
        if port == self.port and (is_loopback(host) or same_host(host, self.host)):
            return True
        return any(
            (wanted := split_host_port(entry, self.port)) is not None
            and wanted[1] == port
            and same_host(wanted[0], host)
            for entry in self.allowed_hosts
        )

    def origin_allowed(self, header: str | None) -> bool:
        if header is None:
            return True  # not sent by a browser, or a same-origin GET
        origin = parse_origin(header)
        if origin is None:
            return False  # "null" (a sandboxed frame, a file: page) and anything malformed
        if is_loopback(origin[1]):
            return True
        return any(
            (allowed := parse_origin(entry)) is not None
            and allowed[0] == origin[0]
            and allowed[2] == origin[2]
            and same_host(allowed[1], origin[1])
            for entry in self.allowed_origins
        )

    def token_given(self, header: str | None) -> bool:
        scheme, _, given = (header or "").strip().partition(" ")
        matches = hmac.compare_digest(given.strip().encode(), self.token.encode())
        return scheme.lower() == "bearer" and matches


def parse_origin(text: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, or None when it is not an http(s) origin."""
    try:
        parts = urlsplit(text.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


class Gate:
    """ASGI middleware: answers a request that fails a check with the CawError JSON; lifespan passes through."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (refusal := self.refusal(Headers(scope=scope))) is not None:
            status, error = refusal
            headers = {"WWW-Authenticate": 'Bearer realm="caw"'} if status == 401 else None
            await JSONResponse(error.to_dict(), status_code=status, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers) -> tuple[int, CawError] | None:
        access = self.access
        if not access.host_allowed(headers.get("host")):
            return 421, CawError(
                "HOST_NOT_ALLOWED",
                f"The Host header {headers.get('host')!r} does not name this server",
                recoverable=True,
                suggestion=f"Connect to {url_of(access.host, access.port)}; to accept another name, start the "
                "server with --allow-host NAME.",
            )
        if not access.origin_allowed(headers.get("origin")):
            return 403, CawError(
                "ORIGIN_NOT_ALLOWED",
                f"Requests from the web origin {headers.get('origin')!r} are not allowed",
                recoverable=True,
                suggestion="Only pages served from this machine's loopback may call the server; to allow another "
                "origin, start the server with --allow-origin ORIGIN.",
            )
        if not access.token_given(headers.get("authorization")):
            return 401, CawError(
                "UNAUTHORIZED",
                "Missing or wrong bearer token",
                recoverable=True,
                suggestion="Send the header Authorization: Bearer <token> with the server's token "
                "(printed when it starts; `caw setup ... --url` writes it into a client's config).",
            )
        return None
