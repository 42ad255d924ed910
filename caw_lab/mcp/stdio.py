"""MCP over the process's stdin and stdout: what ``caw --server`` runs for a local agent."""

from __future__ import annotations

from typing import Any

from mcp.server import Server
from mcp.server.stdio import stdio_server


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client until it closes stdin."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
