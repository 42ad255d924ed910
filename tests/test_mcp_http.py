"""``caw --server --transport http``: the same protocol over streamable HTTP, /health, and the token."""

from __future__ import annotations

import json
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

import caw_lab
from caw_lab.errors import CawError
from caw_lab.mcp import serve
from caw_lab.mcp.gate import Access
from caw_lab.mcp.loopback import is_loopback
from caw_lab.mcp.token import resolve_token, token_path
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


LOOPBACK_SPELLINGS = ["127.0.0.1", "127.0.0.2", "127.255.255.254", "127.1", "0x7f.1", "2130706433", "localhost",
                      "LocalHost.", "::1", "[::1]", "0:0:0:0:0:0:0:1", "[0000::0001]", "::ffff:127.0.0.1", "::1%lo"]
NOT_LOOPBACK = ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "fe80::1", "evil.example", "localhost.evil.example",
                "127.0.0.1.evil.example", "127.0.0.1 evil", "", "[::1", "sub.localhost"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_nothing_else_is_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_the_gate_accepts_the_servers_own_host_and_loopback_with_its_port_only() -> None:
    access = Access("127.0.0.2", 3100, "t", allowed_hosts=["caw.internal", "box:8080"])
    for host in ("127.0.0.2:3100", "localhost:3100", "[::1]:3100", "[0:0:0:0:0:0:0:1]:3100", "127.1:3100",
                 "caw.internal:3100", "CAW.internal:3100", "box:8080"):
        assert access.host_allowed(host), host
    for host in (None, "", "evil.example:3100", "127.0.0.2", "127.0.0.2:3101", "localhost:80", "caw.internal:80",
                 "box:3100", "u@localhost:3100", "localhost:3100/x", "[::1]:3100:1", "10.0.0.1:3100"):
        assert not access.host_allowed(host), host
    wide = Access("0.0.0.0", 80, "t")
    assert wide.host_allowed("localhost") and wide.host_allowed("0.0.0.0:80") and not wide.host_allowed("evil.example")


def test_the_gate_accepts_loopback_origins_and_the_ones_the_user_allowed() -> None:
    access = Access("127.0.0.1", 3100, "t", allowed_origins=["https://lab.example.org"])
    for origin in (None, "http://localhost:8888", "http://127.0.0.1:3100", "https://[::1]", "http://127.0.0.2:1",
                   "https://lab.example.org", "https://LAB.example.org:443", "https://lab.example.org/"):
        assert access.origin_allowed(origin), origin
    for origin in ("null", "", "http://evil.example", "http://lab.example.org", "https://lab.example.org:8443",
                   "file://", "chrome-extension://abc", "http://localhost.evil.example", "http://127.0.0.1.nip.io"):
        assert not access.origin_allowed(origin), origin


def test_the_token_is_compared_whole_and_the_scheme_case_blind() -> None:
    access = Access("127.0.0.1", 3100, "s3cret")
    assert access.token_given("Bearer s3cret") and access.token_given("bearer s3cret")
    for header in (None, "", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "Bearers3cret"):
        assert not access.token_given(header), header


def test_a_token_is_generated_once_kept_private_and_shared_by_racing_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAW_HOME", str(tmp_path / "home"))
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: resolve_token(None), range(8)))
    assert len(tokens) == 1 and len(tokens.pop()) >= 40
    assert stat.S_IMODE(token_path().stat().st_mode) == 0o600
    assert resolve_token("given") == "given"
    token_path().chmod(0o640)
    with pytest.raises(CawError) as exposed:
        resolve_token(None)
    assert exposed.value.code == "TOKEN_FILE_UNSAFE" and "mode 640" in exposed.value.message
