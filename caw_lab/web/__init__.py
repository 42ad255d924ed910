"""The web surface: the reference's REST API under ``/api``, its WebSocket at ``/ws``,
``/api/openapi.json`` and the dashboard page at ``/``; served by ``caw --server --transport
http`` beside ``/mcp``.

A surface like the others: it reaches the engine only through the tool registry, and the
HTTP server's gate (``mcp.gate``) admits a request or a WebSocket before any of it runs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from caw_lab.store.backend import Backend
from caw_lab.web import page, rest
from caw_lab.web.hub import Hub
from caw_lab.web.openapi import openapi
from caw_lab.web.ws import endpoint

OPENAPI_PATH = "/api/openapi.json"
WS_PATH = "/ws"


def web_routes(db: Backend, hub: Hub | None = None) -> list[BaseRoute]:
    """Every route of the web surface, the catch-all 404 of ``/api`` last."""

    async def document(request: Request) -> JSONResponse:
        return JSONResponse(openapi())

    hub = hub or Hub(db)
    return [Route(OPENAPI_PATH, document, methods=["GET"]), *rest.routes(db),
            WebSocketRoute(WS_PATH, endpoint(hub)), rest.not_found_route(), *page.routes()]


__all__ = ["OPENAPI_PATH", "WS_PATH", "Hub", "web_routes"]
