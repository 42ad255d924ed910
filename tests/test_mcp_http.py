"""``caw --server --transport http``: the same protocol over streamable HTTP, /health, and the token."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

import caw_lab
from caw_lab.errors import CawError
from caw_lab.mcp import serve
from caw_lab.tools import MAX_TEXT_BYTES
from conftest import dump, make_workflow
from mcp_session import CAW, TOKEN, agent_protocol, call, http_client, http_server, refusal, run


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_agent_protocol_and_recovery(db_path: Path, mode: str) -> None:
    with http_server(db_path) as server:

        async def scenario() -> None:
            async with http_client(server.url, mode=mode) as worker, http_client(server.url, mode=mode) as rival:
                await agent_protocol(worker, rival)

        run(scenario)


def test_health_reports_the_database(db_path: Path) -> None:
    with http_server(db_path) as server:
        health = httpx.get(f"{server.url}/health", headers=server.headers).json()
    assert health["status"] == "ok" and health["name"] == "caw"
    assert health["database"].endswith(str(db_path))


def test_requests_without_the_token_get_401_and_change_nothing(db_path: Path, client: caw_lab.Client) -> None:
    make_workflow(client, [{"name": "only"}])
    before = dump(client.db)
    create = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "workflow_create",
                         "arguments": {"name": "x", "source_type": "prompt", "source_content": "x"}}}
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28"}
    with http_server(db_path) as server:
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = httpx.post(f"{server.url}/mcp", json=create, headers={**accept, **auth})
            assert answer.status_code == 401
            assert answer.json()["code"] == "UNAUTHORIZED"
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert httpx.get(f"{server.url}/health").status_code == 401

        async def scenario() -> None:
            async with http_client(server.url, token=None) as anonymous:
                await anonymous.call_tool("workflow_create", create["params"]["arguments"])

        with pytest.raises(MCPError):
            run(scenario)
    assert dump(client.db) == before


def test_bad_input_is_refused_and_changes_nothing(db_path: Path, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "only"}])
    before = dump(client.db)
    with http_server(db_path) as server:

        async def scenario() -> None:
            async with http_client(server.url) as mcp:
                assert (await refusal(mcp, "no_such_tool", {"x": 1}))["code"] == "UNKNOWN_TOOL"
                assert (await refusal(mcp, "task_claim", {"task_id": wf["tasks"]["only"]}))["code"] == "INVALID_INPUT"
                ill_typed = {"id": wf["id"], "max_parallel_tasks": "many"}
                assert (await refusal(mcp, "workflow_set_parallelism", ill_typed))["code"] == "INVALID_INPUT"
                huge = {"id": wf["id"], "config": {"notes": "x" * (MAX_TEXT_BYTES + 1)}}
                assert (await refusal(mcp, "workflow_set_config", huge))["code"] == "PAYLOAD_TOO_LARGE"
                assert (await call(mcp, "workflow_get", id=wf["id"]))["status"] == "ready"

        run(scenario)
    assert dump(client.db) == before


def test_binding_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    with pytest.raises(CawError) as refused:
        serve(db=db, transport="http", host="0.0.0.0", port=1)
    assert refused.value.code == "TOKEN_REQUIRED"
    cli = subprocess.run([CAW, "--db", str(db), "--server", "--transport", "http", "--host", "0.0.0.0"],
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert cli.returncode != 0 and "--token" in cli.stderr
    assert not db.exists()


def test_error_json_matches_the_documented_shape(db_path: Path) -> None:
    with http_server(db_path) as server:

        async def scenario() -> None:
            async with http_client(server.url) as mcp:
                result = await mcp.call_tool("workflow_get", {"id": "wf_000000000000"})
                assert result.is_error
                assert json.loads(result.content[0].text) == {
                    "code": "WORKFLOW_NOT_FOUND",
                    "message": "Workflow not found: wf_000000000000",
                    "recoverable": False,
                    "suggestion": "Check the workflow id; list workflows to find the right one.",
                }

        run(scenario)
