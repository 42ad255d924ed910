"""Every MCP revision a client still sends, on stdio and on streamable HTTP, spoken by the official SDK.

The handshake revisions (2025-03-26, 2025-06-18, 2025-11-25) open with ``initialize``; the
SDK's ``Client`` always offers the newest of them, so a session offering an older one is
driven through the SDK's ``ClientSession`` with that revision in its ``initialize``, and
every later request carries what the SDK stamps for it (on HTTP the ``MCP-Protocol-Version``
header). The stateless 2026-07-28 revision needs no handshake: each request carries its
version and client info, and the SDK's ``Client`` speaks it when asked (``mode``). A version
the server does not serve is answered as the specification says: a counter-offer to an
``initialize``, the ``UNSUPPORTED_PROTOCOL_VERSION`` error (-32022, listing the supported
revisions) to a stateless request, and HTTP 400 to a header naming an unknown revision.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_session import CAW, TOKEN, HttpServer, http_server, run, stdio_params

HANDSHAKE = ("2025-03-26", "2025-06-18", "2025-11-25")
STATELESS = "2026-07-28"
REVISIONS = (*HANDSHAKE, STATELESS)
UNKNOWN = "2099-01-01"
TRANSPORTS = ("stdio", "http")

ENVELOPE = "io.modelcontextprotocol/"
HTTP_HEADERS = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, HttpServer]]:
    """One database, served over HTTP for the whole module; stdio sessions start their own server on it."""
    db = tmp_path_factory.mktemp("revisions") / "caw.db"
    with http_server(db) as server:
        yield db, server


@asynccontextmanager
async def streams(transport: str, db: Path, server: HttpServer) -> AsyncIterator[Any]:
    if transport == "stdio":
        async with stdio_client(stdio_params(db)) as pair:
            yield pair
        return
    async with (
        httpx2.AsyncClient(headers=server.headers, timeout=httpx2.Timeout(30, read=120)) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as pair,
    ):
        yield pair


@asynccontextmanager
async def handshake_session(transport: str, db: Path, server: HttpServer, offered: str) -> AsyncIterator[Any]:
    """An SDK session that opened with ``initialize`` offering ``offered``; yields it and the server's answer."""
    async with streams(transport, db, server) as (read, write), ClientSession(read, write) as session:
        request = types.InitializeRequest(params=types.InitializeRequestParams(
            protocol_version=offered, capabilities=types.ClientCapabilities(),
            client_info=types.Implementation(name="revision-test", version="1")))
        answer = await session.send_request(request, types.InitializeResult)
        session.adopt(answer)
        await session.send_notification(types.InitializedNotification())
        yield session, answer


@asynccontextmanager
async def stateless_client(transport: str, db: Path, server: HttpServer, mode: str) -> AsyncIterator[Client]:
    if transport == "stdio":
        async with Client(stdio_params(db), mode=mode) as client:
            yield client
        return
    async with (
        httpx2.AsyncClient(headers=server.headers, timeout=httpx2.Timeout(30, read=120)) as http,
        Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


async def work_through(session: Any, label: str) -> None:
    """What every agent does first: list the tools, create a workflow, read it back, each result typed."""
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert {"workflow_create", "task_claim", "task_load_context"} <= set(tools)
    assert all(t.output_schema and t.output_schema.get("properties") for t in tools.values())
    created = await session.call_tool("workflow_create", {"name": label, "source_type": "prompt",
                                                          "source_content": label})
    assert not created.is_error, created.content[0].text
    workflow = created.structured_content
    read = await session.call_tool("workflow_get", {"id": workflow["id"]})
    assert read.structured_content["name"] == label
    assert json.loads(read.content[0].text) == read.structured_content


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("revision", HANDSHAKE)
def test_each_handshake_revision_is_served_as_offered(
    served: tuple[Path, HttpServer], transport: str, revision: str
) -> None:
    db, server = served

    async def scenario() -> None:
        async with handshake_session(transport, db, server, revision) as (session, answer):
            assert answer.protocol_version == revision
            assert session.protocol_version == revision
            assert answer.server_info.name == "caw"
            await work_through(session, f"{transport}-{revision}")

    run(scenario)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", [STATELESS, "auto"])
def test_the_stateless_revision_is_served_without_a_handshake(
    served: tuple[Path, HttpServer], transport: str, mode: str
) -> None:
    """``mode=2026-07-28`` sends its first request straight away; ``auto`` asks ``server/discover``
    first, as a new client does, and must be offered the stateless revision."""
    db, server = served

    async def scenario() -> None:
        async with stateless_client(transport, db, server, mode) as client:
            assert client.protocol_version == STATELESS
            assert client.session.initialize_result is None
            await work_through(client.session, f"{transport}-{mode}")

    run(scenario)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unknown_handshake_revision_gets_the_servers_newest_counter_offer(
    served: tuple[Path, HttpServer], transport: str
) -> None:
    """The specification's answer to an ``initialize`` offering a revision the server lacks: the
    newest it has, for the client to accept or hang up on."""
    db, server = served

    async def scenario() -> None:
        async with handshake_session(transport, db, server, UNKNOWN) as (_, answer):
            assert answer.protocol_version == HANDSHAKE[-1]

    run(scenario)


def envelope(version: str) -> dict[str, Any]:
    return {f"{ENVELOPE}protocolVersion": version, f"{ENVELOPE}clientInfo": {"name": "raw", "version": "1"},
            f"{ENVELOPE}clientCapabilities": {}}


def tools_list(version: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": envelope(version)}}


def assert_unsupported(answer: dict[str, Any], requested: str) -> None:
    assert answer["id"] == 7 and "result" not in answer
    error = answer["error"]
    assert error["code"] == types.UNSUPPORTED_PROTOCOL_VERSION == -32022
    assert error["data"]["requested"] == requested
    assert STATELESS in error["data"]["supported"]
    assert set(error["data"]["supported"]) <= set(MODERN_PROTOCOL_VERSIONS)


@pytest.mark.parametrize("requested", [UNKNOWN, HANDSHAKE[-1]])
def test_a_stateless_request_at_an_unsupported_version_is_refused_on_stdio(tmp_path: Path, requested: str) -> None:
    """Raw JSON-RPC, as the SDK client will not send a version it does not know. A handshake
    revision in the envelope is refused too: those are reached through ``initialize`` only."""
    done = subprocess.run([CAW, "--db", str(tmp_path / "caw.db"), "--server"], input=json.dumps(tools_list(requested))
                          + "\n", capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert_unsupported(json.loads(done.stdout.splitlines()[0]), requested)


def test_a_stateless_request_at_an_unsupported_version_is_refused_on_http(served: tuple[Path, HttpServer]) -> None:
    _, server = served
    headers = {**HTTP_HEADERS, "MCP-Protocol-Version": UNKNOWN, "Mcp-Method": "tools/list"}
    answer = httpx.post(f"{server.url}/mcp", json=tools_list(UNKNOWN), headers=headers, timeout=30)
    assert answer.status_code == 400
    assert_unsupported(answer.json(), UNKNOWN)


def test_a_handshake_session_naming_an_unknown_revision_in_its_header_gets_400(
    served: tuple[Path, HttpServer]
) -> None:
    """Streamable HTTP: a request whose ``MCP-Protocol-Version`` header is a revision the server
    does not serve is a Bad Request with a JSON-RPC error, and the session it names goes on serving
    its own revision. (The SDK reads a header that is no handshake revision as a stateless request
    and says what such a request lacks, not that the revision is unknown.)"""
    _, server = served
    url = f"{server.url}/mcp"
    opened = httpx.post(url, headers=HTTP_HEADERS, timeout=30, json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": HANDSHAKE[0], "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
    assert opened.status_code == 200
    session = {**HTTP_HEADERS, "mcp-session-id": opened.headers["mcp-session-id"]}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(url, json=initialized, headers={**session, "MCP-Protocol-Version": HANDSHAKE[0]}).is_success
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    refused = httpx.post(url, json=listing, headers={**session, "MCP-Protocol-Version": UNKNOWN}, timeout=30)
    assert refused.status_code == 400
    assert refused.json()["id"] == 2 and refused.json()["error"]["code"] < 0
    served_again = httpx.post(url, json=listing, headers={**session, "MCP-Protocol-Version": HANDSHAKE[0]}, timeout=30)
    assert served_again.status_code == 200 and "workflow_create" in served_again.text
