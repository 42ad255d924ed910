"""``caw --server``: every registered tool over MCP, on stdio or streamable HTTP."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import partial
from typing import Literal

import anyio

from caw_lab.mcp import sdk  # noqa: F401  (first: the SDK's server half alone)
from caw_lab.mcp.loopback import require_token_off_loopback
from caw_lab.mcp.server import build_server
from caw_lab.mcp.stdio import run_sdk_stdio, run_stdio
from caw_lab.mcp.token import resolve_token
from caw_lab.store import open_backend
from caw_lab.telemetry.export import exported

STDIO_LOOP_ENV = "CAW_MCP_STDIO"
"""``sdk`` serves stdio through the SDK's own transport and loop instead of ``mcp.stdio``'s
faster one: the way back should an SDK release break what ``mcp.stdio.InOrderDispatcher`` overrides, and
the baseline bench.mcp times ours against."""
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
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    request_timeout_s: float | None = None,
    otlp_endpoint: str | None = None,
    tools: str | None = None,
) -> None:
    """Serve until the client hangs up (stdio) or the process is interrupted (http).

    ``db=None`` lets ``store.location.resolve_db`` decide from CAW_DB_PATH, CAW_DB_MODE
    and CAW_REPO_PATH. Over HTTP a token is always required: without ``token`` the stored
    one is used (generated on first use, ``mcp.token``), except beyond loopback, which is
    refused without an explicit ``token`` before anything is opened. ``allowed_hosts`` and
    ``allowed_origins`` widen what ``mcp.gate`` accepts; ``request_timeout_s`` bounds the
    wait for a request's headers and again for its body (default ``mcp.slow_clients.DEFAULT_TIMEOUT_S``).
    ``metrics_port`` serves Prometheus metrics, ``otlp_endpoint`` (or the standard
    ``OTEL_EXPORTER_OTLP_ENDPOINT``) receives traces and metrics (``telemetry.export``), both
    installed before the server is built, which adds the SDK's span per message only then.
    ``tools`` is the tool profile to serve (``profiles``; default all).
    """
    if transport not in ("stdio", "http"):
        raise ValueError(f"Unknown transport {transport!r}: use 'stdio' or 'http'")
    access = None
    if transport == "http":
        from caw_lab.mcp.gate import Access  # the web stack: a stdio server's start-up need not import it

        host = host.strip().removeprefix("[").removesuffix("]")
        require_token_off_loopback(host, token)
        access = Access(host, port, resolve_token(token), tuple(allowed_hosts), tuple(allowed_origins))
    backend = open_backend(str(db) if db is not None else None)
    try:
        with exported(backend, metrics_port=metrics_port, otlp_endpoint=otlp_endpoint):
            if access is not None:
                from caw_lab.mcp.http import run_http

                anyio.run(partial(run_http, build_server(backend, tools=tools), backend, access, token_stored=not token,
                                  timeout_s=request_timeout_s), backend_options=EVENT_LOOP)
            elif os.environ.get(STDIO_LOOP_ENV) == "sdk":
                anyio.run(run_sdk_stdio, build_server(backend, tools=tools), backend_options=EVENT_LOOP)
            else:
                server = build_server(backend, tools_in_thread=False, tools=tools)
                anyio.run(run_stdio, server, backend_options=EVENT_LOOP)
    finally:
        backend.close()


__all__ = ["build_server", "require_token_off_loopback", "serve"]
