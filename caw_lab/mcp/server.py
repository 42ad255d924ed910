"""The MCP server: the tool registry, the summary resource and the recovery prompt.

Built on the SDK's low-level ``Server`` so each tool advertises exactly its pydantic
schema and every call goes through ``tools.call_tool`` — the same validation, size
limit and lock checks as every other surface. One server object serves every
session of a process; the database handle is shared (SQLite serialises the writes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError
from opentelemetry import trace

from caw_lab.errors import CawError
from caw_lab.mcp import profiles, recovery, summary
from caw_lab.mcp.protocol import PROTOCOL
from caw_lab.mcp.results import error_result, run_tool
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool as call_registered
from caw_lab.tools import load_all
from caw_lab.version import __version__

NAME = "caw"
LISTED_WORKFLOWS = 50

Context = ServerRequestContext[Any]


def build_server(db: Backend, *, tools_in_thread: bool = True, tools: str | None = None) -> Server[Any]:
    """The server for every session of ``db``, listing the tools of profile ``tools`` (see
    ``profiles``; default all). A stdio server has one client, which waits for each answer
    anyway, so it passes ``tools_in_thread=False`` and its tools run on the event loop, without a
    worker thread's round trip (a quarter of a millisecond a call); over HTTP one loop serves
    every client, and a write waiting on SQLite's lock must not hold them up."""

    @functools.cache
    def advertised() -> dict[str, types.Tool]:
        """The profile's tools as MCP lists them, built on first use, not before the handshake."""
        return {listed.name: listed for listed in profiles.listed(profiles.select(tools))}

    def input_schema(name: str) -> dict[str, Any] | None:
        listed = advertised().get(name)
        return listed.input_schema if listed else None

    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(advertised().values()))

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name not in advertised() and params.name in load_all():
            return error_result(outside_profile(params.name, tools))
        return await run_tool(db, params.name, params.arguments, in_thread=tools_in_thread)

    async def list_resources(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        listed = await off_loop(lambda: call_registered(db, "workflow_list", {"limit": LISTED_WORKFLOWS}))
        return types.ListResourcesResult(resources=[summary_resource(w) for w in listed["workflows"]])

    async def list_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            name="workflow_summary",
            uri_template=summary.URI_TEMPLATE,
            description="A workflow as markdown: status, tasks, who holds them, recent checkpoints.",
            mime_type="text/markdown",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        page = await off_loop(lambda: summary.render(db, summary.workflow_id_of(uri)))
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown", text=page)]
        )

    async def list_prompts(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[recovery.PROMPT])

    async def get_prompt(ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name != recovery.NAME:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
        return await off_loop(lambda: recovery.messages(db, params.arguments))

    server = Server(
        NAME,
        version=__version__,
        instructions=PROTOCOL,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    if not tracing():
        server.middleware.clear()  # the SDK's span per message, recorded by nobody
    return server


def tracing() -> bool:
    """Whether an OpenTelemetry tracer provider is installed (``opentelemetry-instrument caw
    --server`` installs one before the server starts); without one the spans go nowhere."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def outside_profile(name: str, profile: str | None) -> CawError:
    """A call to a tool this server does not list: refused as an unknown tool, so a profile is a
    real limit on what its clients can do, not only on what they see."""
    return CawError(
        "UNKNOWN_TOOL",
        f"Unknown tool: {name!r} (this server serves the tool profile {profile or profiles.DEFAULT!r})",
        recoverable=False,
        suggestion="Call a tool from tools/list, or start the server with a profile that includes it (--tools).",
    )


def summary_resource(workflow: dict[str, Any]) -> types.Resource:
    return types.Resource(
        name=f"{workflow['name']} ({workflow['status']})",
        uri=summary.uri_for(workflow["id"]),
        description=f"Summary of workflow {workflow['id']}",
        mime_type="text/markdown",
    )


async def off_loop(read: Callable[[], Any]) -> Any:
    """Run a database read in a worker thread; a CawError becomes a protocol error carrying its JSON."""
    try:
        return await anyio.to_thread.run_sync(read)
    except CawError as err:
        raise MCPError(types.INVALID_PARAMS, err.message, data=err.to_dict()) from err
