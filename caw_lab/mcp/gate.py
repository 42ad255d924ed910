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
3. ``Authorization: Bearer <token>``, or the ``caw_token`` cookie, compared in constant
   time. Else ``401`` ``UNAUTHORIZED``.

A browser cannot send a header with a link, so, as Jupyter does, ``?token=<token>`` on a
GET is accepted once: the answer is a redirect to the same URL without it that sets the
token as a cookie, ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other
site's page sends it), so the token leaves the address bar and the history. WebSocket
handshakes (``/ws``) pass the same three checks (a browser sends the cookie and its
Origin with them); a refused one is closed before it is accepted, which the client sees
as HTTP 403.

A refused request is answered before its body is read, so it can change nothing. The
SDK's own DNS-rebinding check (``TransportSecuritySettings``) is switched off in favour of
this one: it compares header strings with a fixed list, so ``127.0.0.2`` or
``[0:0:0:0:0:0:0:1]`` are unknown to it, and it guards ``/mcp`` alone.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from caw_lab.errors import CawError
from caw_lab.mcp.loopback import is_loopback, same_host, split_host_port, url_of

DEFAULT_PORTS = {"http": 80, "https": 443}
COOKIE = "caw_token"
URL_TOKEN = "token"
API_PATHS = ("/api/", "/mcp", "/health")
"""Paths scripts call: a ``?token=`` there authenticates the request and is not turned into a redirect."""


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

    def token_given(self, header: str | None, cookie: str | None = None) -> bool:
        scheme, _, given = (header or "").strip().partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(given.strip()):
            return True
        return cookie is not None and self.token_matches(cookie)

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())


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
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers, query = Headers(scope=scope), QueryParams(scope.get("query_string", b""))
        refusal = self.refusal(headers, query)
        if scope["type"] == "websocket":
            if refusal is not None:
                await send({"type": "websocket.close", "code": 1008, "reason": refusal[1].code})
                return
        elif refusal is not None:
            await self.refuse(scope, receive, send, *refusal)
            return
        elif URL_TOKEN in query and scope["method"] == "GET" and not scope["path"].startswith(API_PATHS):
            await self.keep_token(scope, receive, send, query)
            return
        await self.app(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, status: int, error: CawError) -> None:
        """The CawError as JSON; under ``/api`` inside the REST API's ``{"error": ...}`` envelope."""
        headers = {"WWW-Authenticate": 'Bearer realm="caw"'} if status == 401 else None
        body = {"error": error.to_dict()} if scope["path"].startswith("/api/") else error.to_dict()
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)

    async def keep_token(self, scope: Scope, receive: Receive, send: Send, query: QueryParams) -> None:
        """A ``?token=`` link, once: redirected to itself without the token, which becomes a cookie."""
        rest = urlencode([(k, v) for k, v in query.multi_items() if k != URL_TOKEN])
        response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
        response.set_cookie(COOKIE, self.access.token, httponly=True, samesite="strict", path="/")
        await response(scope, receive, send)

    def refusal(self, headers: Headers, query: QueryParams | None = None) -> tuple[int, CawError] | None:
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
        from_url = (query or QueryParams()).get(URL_TOKEN)  # when given it must be right, whatever else is
        authorized = access.token_given(headers.get("authorization"), cookie_of(headers)) if from_url is None \
            else access.token_matches(from_url)
        if not authorized:
            return 401, CawError(
                "UNAUTHORIZED",
                "Missing or wrong bearer token",
                recoverable=True,
                suggestion="Send the header Authorization: Bearer <token> with the server's token "
                "(printed when it starts; `caw setup ... --url` writes it into a client's config), or open "
                "the page once as /?token=<token>.",
            )
        return None


def cookie_of(headers: Headers) -> str | None:
    """The ``caw_token`` cookie, read without ``http.cookies`` (which gives up on the whole header at one
    malformed pair another site set)."""
    for pair in headers.get("cookie", "").split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name == COOKIE:
            return value.strip().strip('"')
    return None
