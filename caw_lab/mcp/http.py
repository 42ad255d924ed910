"""Streamable HTTP: the MCP endpoint at ``/mcp``, ``GET /health`` and the web surface (``/api``,
``/ws``: caw_lab/web), behind the gate.

Loopback by default (DESIGN.md invariant 7). Every request passes ``gate.Gate`` (Host,
Origin, bearer token) and then ``slow_clients.WholeBody`` (its body read whole, in time)
before it reaches the app, so one that is refused, or whose client is too slow or leaves,
changes nothing and holds nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from mcp.server import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from caw_lab.errors import CawError
from caw_lab.mcp.gate import Access, Gate
from caw_lab.mcp.loopback import url_of
from caw_lab.mcp.slow_clients import DEFAULT_TIMEOUT_S, MAX_BODY_BYTES, WholeBody, header_deadline
from caw_lab.mcp.token import token_path
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool
from caw_lab.version import __version__
from caw_lab.web import web_routes

MCP_PATH = "/mcp"
HEALTH_PATH = "/health"
SDK_CHECKS = TransportSecuritySettings(enable_dns_rebinding_protection=False)
"""The SDK's Host/Origin check, off: ``gate.Gate`` makes it for every route and every spelling of loopback."""


def build_app(server: Server[Any], db: Backend, access: Access, timeout_s: float = DEFAULT_TIMEOUT_S) -> ASGIApp:
    async def health(request: Request) -> JSONResponse:
        try:
            head = call_tool(db, "events_list", {"limit": 1})["head"]
        except CawError as err:
            return JSONResponse({"status": "error", "error": err.to_dict()}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "name": server.name,
                "version": __version__,
                "database": db.url,
                "events_head": head,
            }
        )

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=access.host,
        transport_security=SDK_CHECKS,
        max_request_body_size=MAX_BODY_BYTES,
        custom_starlette_routes=[Route(HEALTH_PATH, health, methods=["GET"]), *web_routes(db)],
    )
    return Gate(WholeBody(app, timeout_s), access)


async def run_http(
    server: Server[Any], db: Backend, access: Access, *, token_stored: bool, timeout_s: float | None = None
) -> None:
    """Serve until interrupted. Prints where, and, when caw chose the token, the token, as Jupyter does."""
    timeout_s = timeout_s or DEFAULT_TIMEOUT_S
    app = build_app(server, db, access, timeout_s)
    config = uvicorn.Config(
        app, host=access.host, port=access.port, log_level="warning", http=header_deadline(timeout_s)
    )
    url = f"{url_of(access.host, access.port)}{MCP_PATH}"
    print(f"caw: MCP server on {url} ({db.url}); REST API under /api, WebSocket at /ws", file=sys.stderr,
          flush=True)
    if token_stored:
        print(
            f"caw: clients send Authorization: Bearer {access.token}\n"
            f"caw: (the token is kept in {token_path()}; `caw setup claude-code --url {url}` configures a client)",
            file=sys.stderr,
            flush=True,
        )
    await uvicorn.Server(config).serve()
