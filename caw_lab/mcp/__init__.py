"""``caw --server``: every registered tool over MCP, on stdio or streamable HTTP."""

from __future__ import annotations

import os
import sys
from typing import Literal

import anyio

from caw_lab.mcp import sdk  # noqa: F401  (first: the SDK's server half alone)
from caw_lab.mcp.loopback import require_token_off_loopback
from caw_lab.mcp.server import build_server
from caw_lab.mcp.stdio import run_stdio
from caw_lab.store import open_backend

EVENT_LOOP = {"use_uvloop": sys.platform != "win32"}
"""uvloop's event loop where it exists: its turns of the loop are cheaper, and the pipe
transports ``stdio`` serves through are libuv's, in C (measured in bench/RESULTS.md, "MCP server")."""


def serve(
    db: str | os.PathLike[str] | None = None,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 3100,
    token: str | None = None,
    metrics_port: int | None = None,
    tools: str | None = None,
) -> None:
    """Serve until the client hangs up (stdio) or the process is interrupted (http).

    ``db=None`` lets ``store.location.resolve_db`` decide from CAW_DB_PATH, CAW_DB_MODE
    and CAW_REPO_PATH. ``tools`` is the tool profile to serve (``profiles``; default all). Refuses
    a non-loopback ``host`` without a ``token`` before
    opening anything. ``metrics_port`` serves Prometheus metrics (``telemetry.export``).
    """
    if transport not in ("stdio", "http"):
        raise ValueError(f"Unknown transport {transport!r}: use 'stdio' or 'http'")
    if transport == "http":
        require_token_off_loopback(host, token)
    backend = open_backend(str(db) if db is not None else None)
    try:
        if metrics_port is not None:
            from caw_lab.telemetry.export import serve_metrics

            serve_metrics(backend, metrics_port)
        if transport == "http":
            from caw_lab.mcp.http import run_http  # the web stack: a stdio server's start-up need not import it

            server = build_server(backend, tools=tools)
            anyio.run(run_http, server, backend, host, port, token, backend_options=EVENT_LOOP)
        else:
            anyio.run(run_stdio, build_server(backend, tools_in_thread=False, tools=tools), backend_options=EVENT_LOOP)
    finally:
        backend.close()


__all__ = ["build_server", "require_token_off_loopback", "serve"]
