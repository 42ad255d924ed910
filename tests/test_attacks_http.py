"""The network surfaces attacked as a hostile web page or client would, through real processes.

Each test runs a real ``caw --server`` (HTTP on 127.0.0.2 and on ``::1`` spelled long, or
stdio), attacks it through its real surface — forged Host and Origin headers, no token, a
``workflow_set_config`` + ``workflow_start`` chain naming a command, unreadable stdio lines,
sockets that trickle bytes — and asserts the refusal and that the database is unchanged.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import caw_lab
from caw_lab.store.backend import Statement
from conftest import dump, make_workflow
from mcp_session import CAW, HttpServer, call, http_client, http_server, refusal, run

TESTS = Path(__file__).resolve().parent
AGENT = [sys.executable, str(TESTS / "mcp_agent.py")]
CREATE = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
          "params": {"name": "workflow_create", "arguments": {"name": "x", "source_type": "prompt",
                                                               "source_content": "planted"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
               "Content-Type": "application/json"}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


LOOPBACKS = [
    pytest.param("127.0.0.2", id="127.0.0.2"),
    pytest.param("0:0:0:0:0:0:0:1", id="ipv6-long", marks=pytest.mark.skipif(
        not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1) to bind")),
]


def authority(server: HttpServer) -> str:
    return server.url.removeprefix("http://")


def post(server: HttpServer, headers: dict[str, str], body: Any = CREATE, path: str = "/mcp") -> httpx.Response:
    """A request as a browser's page would send it: the headers given override the real ones."""
    return httpx.post(f"{server.url}{path}", content=json.dumps(body), headers={**MCP_HEADERS, **headers}, timeout=30)


@pytest.mark.parametrize("host", LOOPBACKS)
def test_forged_host_or_origin_is_refused_on_any_loopback_address(db_path: Path, client: caw_lab.Client,
                                                                  host: str) -> None:
    make_workflow(client, [{"name": "only"}])
    before = dump(client.db)
    with http_server(db_path, token=None, host=host) as server:
        port = server.url.rsplit(":", 1)[1]
        token = {"Authorization": f"Bearer {server.token}"}
        for forged in ("evil.example", f"evil.example:{port}", f"{host}.evil.example:{port}", "localhost:1",
                       f"127.0.0.1:{int(port) + 1}", f"user@localhost:{port}"):
            refused = post(server, {**token, "Host": forged})
            assert refused.status_code == 421 and refused.json()["code"] == "HOST_NOT_ALLOWED", forged
            health = httpx.get(f"{server.url}/health", headers={**token, "Host": forged})
            assert health.status_code == 421 and str(db_path) not in health.text
        for origin in ("http://evil.example", f"http://evil.example:{port}", "null", "http://127.0.0.1.evil.example"):
            refused = post(server, {**token, "Origin": origin})
            assert refused.status_code == 403 and refused.json()["code"] == "ORIGIN_NOT_ALLOWED"
            assert httpx.get(f"{server.url}/health", headers={**token, "Origin": origin}).status_code == 403
        assert dump(client.db) == before

        for spelled in (authority(server), f"localhost:{port}", f"[::1]:{port}", f"127.1:{port}"):
            health = httpx.get(f"{server.url}/health", headers={**token, "Host": spelled,
                                                                 "Origin": "http://localhost:8888"})
            assert health.status_code == 200 and health.json()["database"].endswith(str(db_path)), spelled


def test_without_the_token_every_request_is_401_and_the_token_is_private(db_path: Path, client: caw_lab.Client,
                                                                         tmp_path: Path) -> None:
    before = dump(client.db)
    home = tmp_path / "home"
    with http_server(db_path, token=None, host="127.0.0.2", home=home) as server:
        for auth in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Bearer {server.token}x"},
                     {"Authorization": f"Basic {server.token}"}, {"Authorization": server.token or ""}):
            refused = post(server, auth)
            assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHORIZED"
            health = httpx.get(f"{server.url}/health", headers=auth)
            assert health.status_code == 401 and str(db_path) not in health.text and "database" not in health.text
        assert dump(client.db) == before
        first = server.token
    printed = server.process.stderr.read().decode()  # type: ignore[union-attr]
    assert f"Bearer {first}" in printed and str(home / "http-token") in printed
    assert stat.S_IMODE((home / "http-token").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    with http_server(db_path, token=None, home=home) as again:
        assert again.token == first, "a restarted server keeps the token its clients were given"


def test_a_stored_token_others_can_read_is_not_used(db_path: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "http-token").write_text("leaked\n")
    (home / "http-token").chmod(0o644)
    done = subprocess.run([CAW, "--db", str(db_path), "--server", "--transport", "http", "--port", "1"],
                          env={**os.environ, "CAW_HOME": str(home)} | {"CAW_TOKEN": ""}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and json.loads(done.stderr)["code"] == "TOKEN_FILE_UNSAFE"
    assert not db_path.exists()


PROGRAMS = {
    "a subprocess command": {"runtime": "subprocess",
                             "runtimes": {"subprocess": {"command": ["sh", "-c", "id > {marker}"]}}},
    "an executable": {"runtime": "claude_code",
                      "runtimes": {"claude_code": {"executable": "sh", "extra_args": ["-c", "id > {marker}"]}}},
    "an environment": {"runtimes": {"codex": {"env": {"LD_PRELOAD": "{marker}.so"}}}},
    "a python callable": {"runtime": "python", "runtimes": {"python": {"work": "os:system"}}},
}


def planted(config: dict[str, Any], marker: Path) -> dict[str, Any]:
    return json.loads(json.dumps(config).replace("{marker}", str(marker)))


def test_no_client_can_choose_the_command_an_agent_runs(db_path: Path, client: caw_lab.Client,
                                                        tmp_path: Path) -> None:
    """The chain a web page used to run ``sh -c id``: workflow_set_config naming a program, then
    workflow_start. Refused with a forged Host, refused with the token too, and a program that
    reached the database another way (an import, an older caw) is refused at the start."""
    wf = make_workflow(client, [{"name": "only"}])
    marker = tmp_path / "pwned"
    with http_server(db_path, token=None, host="127.0.0.2", home=tmp_path / "home") as server:

        async def chain(config: dict[str, Any]) -> None:
            async with http_client(server.url, token=server.token) as mcp:
                refused = await refusal(mcp, "workflow_set_config", {"id": wf["id"], "config": config})
                assert refused["code"] == "COMMAND_NOT_ALLOWED" and "runtimes." in refused["message"]
                assert dump(client.db) == before
                client.db.batch([Statement("UPDATE workflows SET config = ? WHERE id = ?",
                                           (json.dumps(config), wf["id"]))])
                planted_dump = dump(client.db)
                started = await refusal(mcp, "workflow_start", {"workflow_id": wf["id"]})
                assert started["code"] == "COMMAND_NOT_ALLOWED"
                assert dump(client.db) == planted_dump

        for what, execution in PROGRAMS.items():
            config = {"execution": planted(execution, marker)}
            before = dump(client.db)
            set_config = {**CREATE, "params": {"name": "workflow_set_config",
                                               "arguments": {"id": wf["id"], "config": config}}}
            forged = post(server, {"Host": "evil.example", "Authorization": f"Bearer {server.token}"}, set_config)
            assert forged.status_code == 421, what
            run(lambda config=config: chain(config))
    assert not marker.exists() and not marker.with_suffix(".so").exists()


def test_the_subprocess_runtime_without_a_local_command_runs_nothing(db_path: Path, client: caw_lab.Client,
                                                                     tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "only"}])
    before = dump(client.db)
    with http_server(db_path, host="127.0.0.2", home=tmp_path / "home") as server:

        async def start() -> None:
            async with http_client(server.url) as mcp:
                refused = await refusal(mcp, "workflow_start", {"workflow_id": wf["id"], "runtime": "subprocess"})
                assert refused["code"] == "INVALID_INPUT" and ".caw/runtimes.toml" in refused["suggestion"]

        run(start)
    assert dump(client.db) == before


def test_the_local_users_command_runs_when_a_client_starts_the_workflow(
    db_path: Path, client: caw_lab.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = make_workflow(client, [{"name": "only"}])
    local = tmp_path / "runtimes.toml"
    local.write_text(f"[subprocess]\ncommand = {json.dumps(AGENT)}\n")
    monkeypatch.setenv("CAW_RUNTIMES", str(local))  # the local user's choice, in the server's environment
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"runtime": "subprocess",
                                                                           "poll_interval_ms": 50}})
    with http_server(db_path, host="127.0.0.2", home=tmp_path / "home") as server:

        async def start() -> None:
            async with http_client(server.url) as mcp:
                assert (await call(mcp, "workflow_start", workflow_id=wf["id"]))["runtime"] == "subprocess"

        run(start)
        deadline = time.monotonic() + 120
        while client.call("workflow_get", id=wf["id"])["status"] != "completed":
            assert time.monotonic() < deadline, "the local command did not finish the workflow"
            time.sleep(0.1)


INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "attacker", "version": "1"}}}


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def create_call(request_id: int, name: str) -> bytes:
    return line({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {
        "name": "workflow_create", "arguments": {"name": name, "source_type": "prompt", "source_content": "x"}}})


def test_stdio_answers_every_unreadable_line_and_serves_the_next(db_path: Path, client: caw_lab.Client) -> None:
    before = dump(client.db)
    attacks = [
        (1, create_call(1, "NAME").replace(b"NAME", rb"\ud800")),  # a lone surrogate escape: JSON, but not text
        (2, create_call(2, "NAME").replace(b"NAME", b"caf\xe9")),  # not UTF-8
        (None, b"{not json\n"),
        (None, b"[1, 2, 3]\n"),  # JSON, not JSON-RPC
        (5, b'{"jsonrpc": "2.0", "id": 5, "method": 7}\n'),
        (None, create_call(6, "x" * (65 * 1024 * 1024))),  # over 64 MiB
    ]
    wire = line(INITIALIZE) + line({"jsonrpc": "2.0", "method": "notifications/initialized"})
    wire += b"".join(attack for _, attack in attacks) + line({"jsonrpc": "2.0", "id": 99, "method": "ping"})
    done = subprocess.run([CAW, "--db", str(db_path), "--server"], input=wire, capture_output=True, timeout=300)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()[-2000:]
    answers = [json.loads(answer) for answer in done.stdout.splitlines()]
    assert answers[0]["id"] == 0 and "result" in answers[0]
    assert [(a["id"], a["error"]["code"]) for a in answers[1:-1]] == [
        (1, -32600), (2, -32600), (None, -32700), (None, -32600), (5, -32600), (None, -32600)]
    assert answers[-1] == {"jsonrpc": "2.0", "id": 99, "result": {}}
    assert dump(client.db) == before


def trickle(sock: socket.socket, data: bytes, every_s: float, for_s: float) -> None:
    """Send ``data`` a byte at a time until the server hangs up or ``for_s`` seconds pass."""
    deadline = time.monotonic() + for_s
    for byte in data:
        if time.monotonic() > deadline:
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return
        time.sleep(every_s)


def answer_to(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.fixture
def impatient(db_path: Path, tmp_path: Path) -> Iterator[HttpServer]:
    with http_server(db_path, host="127.0.0.2", args=("--request-timeout", "1"), home=tmp_path / "home") as server:
        yield server


def connect(server: HttpServer) -> socket.socket:
    host, port = authority(server).rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def test_slow_headers_and_bodies_are_dropped_and_departures_cost_one_line(
    impatient: HttpServer, client: caw_lab.Client
) -> None:
    server = impatient
    before = dump(client.db)
    head = (f"POST /mcp HTTP/1.1\r\nHost: {authority(server)}\r\nAuthorization: Bearer {server.token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"MCP-Protocol-Version: 2026-07-28\r\n").encode()
    body = json.dumps(CREATE).encode()
    whole = head + f"Content-Length: {len(body)}\r\n\r\n".encode()

    with connect(server) as slow_headers:
        started = time.monotonic()
        trickle(slow_headers, whole, every_s=0.2, for_s=5)
        answered = answer_to(slow_headers)
    assert answered.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in answered
    assert time.monotonic() - started < 5, "the slow client was not dropped at its deadline"

    with connect(server) as slow_body:
        slow_body.sendall(whole)
        started = time.monotonic()
        trickle(slow_body, body, every_s=0.2, for_s=5)
        answered = answer_to(slow_body)
    assert b" 408 " in answered.split(b"\r\n", 1)[0] and b"REQUEST_TIMEOUT" in answered
    assert time.monotonic() - started < 5

    with connect(server) as leaving:
        leaving.sendall(whole + body[:10])
        time.sleep(0.3)
    with connect(server) as silent:
        assert answer_to(silent) == b"", "a connection that never sends a request is closed"
    assert httpx.get(f"{server.url}/health", headers=server.headers).status_code == 200
    assert dump(client.db) == before

    server.process.terminate()
    server.process.wait(timeout=20)
    log = server.process.stderr.read().decode()  # type: ignore[union-attr]
    assert "Traceback" not in log, log
    assert len([entry for entry in log.splitlines() if entry.startswith("dropped ")]) == 2, log
    assert len([entry for entry in log.splitlines() if "hung up" in entry]) == 1, log
