"""Streamable HTTP: the MCP endpoint at ``/mcp``, ``GET /health``, and the bearer token.

Loopback by default (DESIGN.md invariant 7). With a token configured, every request —
``/health`` included — must carry ``Authorization: Bearer <token>``; anything else is
answered 401 before it reaches the server, so it can change nothing.
"""

from __future__ import annotations

import hmac
import sys
from typing import Any

import uvicorn
from mcp.server import Server
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool
from caw_lab.version import __version__

MCP_PATH = "/mcp"
HEALTH_PATH = "/health"


def build_app(server: Server[Any], db: Backend, host: str, token: str | None) -> ASGIApp:
    async def health(request: Request) -> JSONResponse:
        try:
            head = call_tool(db, "events_list", {"limit": 1})["head"]
        except CawError as err:
            return JSONResponse({"status": "error", "error": err.to_dict()}, status_code=503)
        return JSONResponse(
            {"status": "ok", "name": server.name, "version": __version__, "database": db.url,
             "events_head": head}
        )

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, host=host, custom_starlette_routes=[Route(HEALTH_PATH, health, methods=["GET"])]
    )
    return RequireToken(app, token) if token else app


class RequireToken:
    """Answers 401 to any HTTP request without the bearer token; lifespan events pass through."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.authorized(scope):
            refusal = CawError(
                "UNAUTHORIZED",
                "Missing or wrong bearer token",
                recoverable=True,
                suggestion="Send the header Authorization: Bearer <token> with the server's token.",
            )
            headers = {"WWW-Authenticate": 'Bearer realm="caw"'}
            await JSONResponse(refusal.to_dict(), status_code=401, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def authorized(self, scope: Scope) -> bool:
        given = Headers(scope=scope).get("authorization", "").encode()
        return hmac.compare_digest(given, self.expected)


async def run_http(server: Server[Any], db: Backend, host: str, port: int, token: str | None) -> None:
    app = build_app(server, db, host, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    print(f"caw: MCP server on http://{host}:{port}{MCP_PATH} ({db.url})", file=sys.stderr, flush=True)
    await uvicorn.Server(config).serve()
