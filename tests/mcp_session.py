"""How the MCP tests reach a real ``caw --server``: spawn it, connect the SDK client, call tools.

Not a test module: the stdio, HTTP and concurrency tests share these so each transport
is driven the same way, through the installed ``caw`` console script.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

CAW = str(Path(sys.executable).with_name("caw"))
TOKEN = "test-token-3f9a"


def stdio_params(db: Path) -> StdioServerParameters:
    return StdioServerParameters(command=CAW, args=["--db", str(db), "--server"], env=dict(os.environ))


@dataclass(frozen=True)
class HttpServer:
    process: subprocess.Popen[bytes]
    url: str
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def http_server(
    db: Path, token: str | None = TOKEN, *, host: str = "127.0.0.1", args: tuple[str, ...] = (),
    home: Path | None = None,
) -> Iterator[HttpServer]:
    """``caw --server --transport http`` on a free port of ``host``, ready when ``/health`` answers. Without
    ``token`` the server uses the one it keeps in its caw home (``home``, default beside ``db``), read from there."""
    port = free_port(host)
    home = home or db.parent / "caw-home"
    command = [CAW, "--db", str(db), "--server", "--transport", "http", "--host", host, "--port", str(port), *args]
    env = {k: v for k, v in os.environ.items() if k != "CAW_TOKEN"} | {"CAW_HOME": str(home)}
    process = subprocess.Popen(command, env=env | {"CAW_TOKEN": token} if token else env, stderr=subprocess.PIPE)
    try:
        server = HttpServer(process, url_of(host, port), token or stored_token(process, home))
        wait_healthy(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def stored_token(process: subprocess.Popen[bytes], home: Path, timeout: float = 30) -> str:
    """The token a server started without one generated and stored, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (home / "http-token").exists() and (token := (home / "http-token").read_text().strip()):
            return token
        time.sleep(0.05)
    raise RuntimeError(f"caw --server stored no token: {process.stderr.read().decode() if process.stderr else ''}")


def wait_healthy(server: HttpServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"caw --server exited: {server.process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{server.url}/health", headers=server.headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("caw --server did not answer /health")


@asynccontextmanager
async def http_client(url: str, token: str | None = TOKEN, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


class ToolFailed(AssertionError):
    def __init__(self, name: str, error: dict[str, Any]) -> None:
        super().__init__(f"{name} -> {error}")
        self.error = error


async def call(client: Client, name: str, /, **arguments: Any) -> Any:
    """The tool's JSON result; an ``isError`` result raises ToolFailed with the CawError dict."""
    result = await client.call_tool(name, arguments)
    payload = json.loads(result.content[0].text)
    if result.is_error:
        raise ToolFailed(name, payload)
    return payload


async def refusal(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The CawError of a call that must be refused, checked to be the documented isError shape."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} should have been refused: {result.content[0].text[:200]}"
    error = json.loads(result.content[0].text)
    assert set(error) >= {"code", "message", "recoverable", "suggestion"}
    assert result.structured_content == error
    return error


PLAN = {
    "summary": "Add login",
    "tasks": [
        {"name": "design", "description": "Design the login flow"},
        {"name": "build", "description": "Build it", "depends_on": ["design"]},
        {"name": "docs", "description": "Document it"},
    ],
}


async def agent_protocol(worker: Client, rival: Client) -> dict[str, Any]:
    """docs/agent-protocol.md end to end, then the context-recovery sequence; returns the ids used."""
    wf = await call(worker, "workflow_create", name="login", source_type="prompt", source_content="Add login")
    plan = await call(worker, "workflow_set_plan", id=wf["id"], plan=PLAN)
    ids = {t["name"]: t["id"] for t in plan["tasks"]}
    me = await call(worker, "agent_register", name="worker-1", runtime="claude_code", capabilities=["python"])
    other = await call(rival, "agent_register", name="worker-2", runtime="codex")
    assert me["status"] == "online"

    offered = [t["id"] for t in (await call(worker, "workflow_next_tasks", workflow_id=wf["id"]))["tasks"]]
    assert ids["design"] in offered and ids["build"] not in offered  # build waits on design

    assert (await call(worker, "task_claim", task_id=ids["design"], agent_id=me["id"]))["success"] is True
    lost = await call(rival, "task_claim", task_id=ids["design"], agent_id=other["id"])
    assert lost == {"success": False, "already_claimed_by": me["id"]}
    assert (await call(worker, "task_claim", task_id=ids["design"], agent_id=me["id"]))["success"] is True
    offered = [t["id"] for t in (await call(rival, "workflow_next_tasks", workflow_id=wf["id"]))["tasks"]]
    assert ids["design"] not in offered

    context = await call(worker, "task_load_context", task_id=ids["design"])
    assert context["current_task"]["id"] == ids["design"] and context["workflow"]["id"] == wf["id"]
    await call(worker, "task_update_status", id=ids["design"], status="planning")
    await call(worker, "checkpoint_add", task_id=ids["design"], type="plan", summary="Sketch the screens first")
    beat = await call(worker, "agent_heartbeat", agent_id=me["id"], current_task_id=ids["design"], status="busy")
    assert beat["success"] is True
    await call(worker, "task_update_status", id=ids["design"], status="in_progress")
    await call(worker, "checkpoint_add", task_id=ids["design"], type="progress", summary="Screens drawn",
               files_changed=["docs/login.md"])

    # A context reset: find the work again from nothing but the workflow's state.
    active = await call(rival, "workflow_list", status=["in_progress"])
    assert wf["id"] in [w["id"] for w in active["workflows"]]
    progress = await call(rival, "workflow_progress", workflow_id=wf["id"])
    assert progress["by_status"]["in_progress"] == 1
    recovered = await call(rival, "task_load_context", task_id=ids["design"],
                           include={"workflow_plan": True, "prior_task_outcomes": True, "all_checkpoints": True})
    trail = [c["summary"] for c in recovered["current_task"]["checkpoints"]]
    assert trail == ["Sketch the screens first", "Screens drawn"]

    missing_outcome = await refusal(worker, "task_update_status", {"id": ids["design"], "status": "completed"})
    assert (missing_outcome["code"], missing_outcome["recoverable"]) == ("MISSING_OUTCOME", True)
    done = await call(worker, "task_update_status", id=ids["design"], status="completed", outcome="Flow designed")
    assert done["success"] is True
    offered = [t["id"] for t in (await call(worker, "workflow_next_tasks", workflow_id=wf["id"]))["tasks"]]
    assert ids["build"] in offered

    for client, agent in ((worker, me), (rival, other)):
        assert (await call(client, "agent_unregister", id=agent["id"]))["success"] is True
    gone = await call(worker, "agent_get", id=me["id"])
    assert gone["status"] == "offline"
    return {"workflow": wf["id"], "tasks": ids, "agents": [me["id"], other["id"]]}


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """``anyio.run`` that re-raises the one real failure instead of the SDK's nested exception groups."""
    try:
        anyio.run(scenario)
    except BaseExceptionGroup as group:
        while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
            group = group.exceptions[0]
        raise group from None
