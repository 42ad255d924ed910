"""``caw --server`` over stdio, driven by the MCP SDK's client through real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.message import SessionMessage

import caw_lab
from caw_lab.context.tokens import counter
from caw_lab.mcp import EVENT_LOOP, stdio
from caw_lab.mcp.lines import read_line
from caw_lab.mcp.stdio import MessageReader, MessageWriter, open_reader, open_writer
from caw_lab.tools import MAX_TEXT_BYTES
from conftest import dump, make_workflow
from mcp_session import CAW, agent_protocol, call, refusal, run, stdio_params


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_agent_protocol_and_recovery(db_path: Path, mode: str) -> None:
    """The legacy handshake is what today's agents (Claude Code, Codex) speak; auto negotiates the newest."""

    async def scenario() -> None:
        async with (
            Client(stdio_params(db_path), mode=mode) as worker,
            Client(stdio_params(db_path), mode=mode) as rival,
        ):
            await agent_protocol(worker, rival)

    run(scenario)


def test_the_sdks_own_stdio_loop_serves_the_same_protocol(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CAW_MCP_STDIO=sdk: the way back should an SDK release break mcp.stdio's in-order dispatcher."""
    monkeypatch.setenv("CAW_MCP_STDIO", "sdk")

    async def scenario() -> None:
        async with (
            Client(stdio_params(db_path), mode="legacy") as worker,
            Client(stdio_params(db_path), mode="legacy") as rival,
        ):
            await agent_protocol(worker, rival)

    run(scenario)


def test_results_carry_json_text_and_structured_content(db_path: Path) -> None:
    async def scenario() -> None:
        async with Client(stdio_params(db_path)) as client:
            result = await client.call_tool("workflow_create", {"name": "w", "source_type": "prompt",
                                                                "source_content": "x"})
            assert not result.is_error
            assert result.structured_content["status"] == "planning"
            assert result.content[0].text.startswith("{")

    run(scenario)


def test_a_loaded_context_is_sent_as_the_text_its_token_estimate_counts(db_path: Path, client: caw_lab.Client) -> None:
    """The text an agent reads of a context, loaded afresh or kept, is the text that was counted
    (non-ASCII included, written as itself), and says what the structured content says."""
    wf = make_workflow(client, [{"name": "schéma"}, {"name": "api", "depends_on": ["schéma"]}])
    agent = client.call("agent_register", name="w1", runtime="claude_code")
    task = wf["tasks"]["schéma"]
    client.call("task_claim", task_id=task, agent_id=agent["id"])
    client.call("task_update_status", id=task, status="planning")
    for n in range(3):
        client.call("checkpoint_add", task_id=task, type="progress", summary=f"étape {n} — tables")

    async def scenario() -> None:
        async with Client(stdio_params(db_path)) as mcp:
            for _ in range(2):  # afresh, then the kept answer
                result = await mcp.call_tool("task_load_context", {"task_id": task})
                assert not result.is_error
                text = result.content[0].text
                assert "étape 2 — tables" in text
                assert json.loads(text) == result.structured_content
                assert counter().count(text) == result.structured_content["token_estimate"]

    run(scenario)


def test_summary_resource_and_recovery_prompt(db_path: Path, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "schema"}, {"name": "api", "depends_on": ["schema"]}])
    agent = client.call("agent_register", name="w1", runtime="claude_code")
    task = wf["tasks"]["schema"]
    client.call("task_claim", task_id=task, agent_id=agent["id"])
    client.call("task_update_status", id=task, status="planning")
    client.call("checkpoint_add", task_id=task, type="progress", summary="Tables | drafted")

    async def scenario() -> None:
        async with Client(stdio_params(db_path)) as mcp:
            templates = await mcp.list_resource_templates()
            assert [t.uri_template for t in templates.resource_templates] == ["caw://workflows/{id}/summary"]
            listed = [str(r.uri) for r in (await mcp.list_resources()).resources]
            assert f"caw://workflows/{wf['id']}/summary" in listed

            page = (await mcp.read_resource(f"caw://workflows/{wf['id']}/summary")).contents[0]
            assert page.mime_type == "text/markdown"
            assert "**in_progress**" in page.text
            assert f"| schema (`{task}`) | planning | {agent['id']} |" in page.text
            assert "| api (" in page.text and "| blocked |" in page.text
            assert "progress: Tables \\| drafted" in page.text

            prompts = (await mcp.list_prompts()).prompts
            assert [p.name for p in prompts] == ["recover_context"]
            steps = (await mcp.get_prompt("recover_context")).messages[0].content.text
            order = [steps.index(tool) for tool in ("workflow_list", "workflow_progress", "task_load_context")]
            assert order == sorted(order) and "all_checkpoints" in steps
            focused = await mcp.get_prompt("recover_context", {"workflow_id": wf["id"]})
            assert focused.messages[1].content.resource.text == page.text

    run(scenario)


def test_bad_input_is_refused_and_changes_nothing(db_path: Path, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "only"}])
    before = dump(client.db)

    async def scenario() -> None:
        async with Client(stdio_params(db_path)) as mcp:
            assert (await refusal(mcp, "no_such_tool", {}))["code"] == "UNKNOWN_TOOL"
            assert (await refusal(mcp, "workflow_create", {"name": "x"}))["code"] == "INVALID_INPUT"
            ill_typed = {"name": ["x"], "source_type": "prompt", "source_content": 5}
            assert (await refusal(mcp, "workflow_create", ill_typed))["code"] == "INVALID_INPUT"
            bad_enum = {"task_id": wf["tasks"]["only"], "type": "musing", "summary": "s"}
            assert (await refusal(mcp, "checkpoint_add", bad_enum))["code"] == "INVALID_INPUT"
            huge = {"name": "x", "source_type": "prompt", "source_content": "é" * (MAX_TEXT_BYTES // 2 + 1)}
            assert (await refusal(mcp, "workflow_create", huge))["code"] == "PAYLOAD_TOO_LARGE"
            missing = await refusal(mcp, "task_update_status", {"id": "tk_000000000000", "status": "planning"})
            assert missing["code"] == "TASK_NOT_FOUND"
            # The server is still healthy after all that.
            assert (await call(mcp, "workflow_get", id=wf["id"]))["id"] == wf["id"]

    run(scenario)
    assert dump(client.db) == before


CLAIM = """
import os, subprocess, sys
from caw_lab.mcp.stdio import claimed_wire

with claimed_wire() as wire:
    print("stray print", flush=True)
    subprocess.run(["sh", "-c", "echo child output"], check=True)
    os.write(wire[1], b"on the wire\\n")
    sys.stderr.write(os.read(wire[0], 100).decode())
print("stdout restored", flush=True)
"""


def test_while_serving_stray_output_and_children_cannot_reach_the_wire() -> None:
    done = subprocess.run([sys.executable, "-c", CLAIM], input="request\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "on the wire\nstdout restored\n"
    assert done.stderr.splitlines() == ["stray print", "child output", "request"]


def requests_then_eof(count: int) -> bytes:
    """A client's whole side of a session, written at once: the handshake and ``count`` listings."""
    listings = [{"jsonrpc": "2.0", "id": n, "method": "tools/list"} for n in range(2, count + 2)]
    messages = [json.loads(INITIALIZE), {"jsonrpc": "2.0", "method": "notifications/initialized"}, *listings]
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def test_every_request_sent_before_stdin_closes_is_answered(db_path: Path) -> None:
    done = subprocess.run([CAW, "--db", str(db_path), "--server"], input=requests_then_eof(20), capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [answer["id"] for answer in answers] == list(range(1, 22))
    assert all(len(answer["result"]["tools"]) >= 58 for answer in answers[1:])


def test_a_client_that_leaves_without_reading_ends_the_server_cleanly(db_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # nobody will read the answers
    try:
        done = subprocess.run([CAW, "--db", str(db_path), "--server"], input=requests_then_eof(20), stdout=write_fd,
                              stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_fd)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_a_file_on_stdin_is_left_to_the_sdk(tmp_path: Path) -> None:
    script = "from caw_lab.mcp.stdio import claimed_wire\nwith claimed_wire() as wire:\n    print(wire)"
    with open(tmp_path / "requests.jsonl", "w+") as stdin:
        done = subprocess.run([sys.executable, "-c", script], stdin=stdin, capture_output=True, text=True, timeout=60)
    assert done.stdout == "None\n", done.stderr


LOOPS = [pytest.param({"use_uvloop": False}, id="asyncio"),
         pytest.param(EVENT_LOOP, id="server-loop")]


def message(n: int, pad: str = "") -> SessionMessage:
    params = {"n": n, "pad": pad} if pad else {"n": n}
    return SessionMessage(types.JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params=params))


def received(wire: list[bytes], loop: dict[str, bool], ahead: bool = False) -> tuple[list[SessionMessage], list[Any]]:
    """What a MessageReader hands the SDK from ``wire`` written piece by piece to a pipe, and the
    replies it wrote itself to the lines it could not use; with ``ahead``, after first asking
    whether the client opens with ``initialize``."""
    read_fd, write_fd = os.pipe()
    replies_read, replies_write = os.pipe()

    async def scenario() -> list[SessionMessage]:
        pipe = await open_writer(replies_write)
        reader = MessageReader(await open_reader(read_fd), MessageWriter(pipe))
        for piece in wire:
            os.write(write_fd, piece)
            await anyio.sleep(0.01)
        os.close(write_fd)
        if ahead:
            assert await reader.opens_with_initialize() is wire[0].startswith(INITIALIZE)
        items = [item async for item in reader]
        pipe.close()
        await pipe.wait_closed()
        return items

    try:
        items = anyio.run(scenario, backend_options=loop)
        with os.fdopen(replies_read, "rb") as replies:
            return items, [json.loads(line) for line in replies]
    except BaseException:
        os.close(replies_read)
        raise


@pytest.mark.parametrize("loop", LOOPS)
def test_messages_are_whole_however_the_pipe_splits_them(loop: dict[str, bool]) -> None:
    pieces = [b'{"jsonrpc":"2.0","method":"a"}\n{"jsonrpc":"2.0","method":"\xc3', b'\xa9"}\n{"jsonrpc"',
              b':"2.0","method":"c"}']
    items, replies = received(pieces, loop)
    assert [item.message.method for item in items] == ["a", "é", "c"] and replies == []  # type: ignore[union-attr]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_line_over_the_limit_is_answered_skipped_whole_and_the_next_is_read(
    loop: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stdio, "LINE_LIMIT", 1024)
    long_line = b'{"jsonrpc":"2.0","id":7,"method":"' + b"x" * 4000 + b'"}\n'
    items, replies = received([long_line[:1500], long_line[1500:] + b'{"jsonrpc":"2.0","method":"after"}\n'], loop)
    assert [item.message.method for item in items] == ["after"]  # type: ignore[union-attr]
    assert replies == [{"jsonrpc": "2.0", "id": None,
                        "error": {"code": -32600, "message": "Invalid request: the line is longer than 1024 bytes"}}]


def written_while_drained(send: Callable[[MessageWriter], Awaitable[None]], loop: dict[str, bool]) -> bytes:
    """What ``send`` put through a MessageWriter on a pipe that a thread drains slowly."""
    read_fd, write_fd = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_fd, 1 << 16):
            received.extend(chunk)

    async def scenario() -> None:
        reader = threading.Thread(target=drain)
        reader.start()
        pipe = await open_writer(write_fd)
        await send(MessageWriter(pipe))
        pipe.close()
        await pipe.wait_closed()
        await anyio.to_thread.run_sync(reader.join)

    try:
        anyio.run(scenario, backend_options=loop)
    finally:
        os.close(read_fd)
    return bytes(received)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_message_larger_than_the_pipe_arrives_whole(loop: dict[str, bool]) -> None:
    big = message(1, "x" * (2 * 1024 * 1024))

    async def send(writer: MessageWriter) -> None:
        await writer.send(big)

    assert written_while_drained(send, loop).decode() == big.message.model_dump_json(by_alias=True) + "\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_frames_stay_whole_when_senders_wait_on_a_full_pipe(loop: dict[str, bool]) -> None:
    big = "x" * (256 * 1024)

    async def send(writer: MessageWriter) -> None:
        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(writer.send, message(n, big))

    lines = written_while_drained(send, loop).decode().splitlines()
    assert sorted(types.JSONRPCNotification.model_validate_json(line).params["n"] for line in lines) == list(range(8))


@pytest.mark.parametrize("loop", LOOPS)
def test_a_client_that_hung_up_is_a_broken_stream(loop: dict[str, bool]) -> None:
    """The SDK's dispatcher drops an answer to a departed client on anyio's BrokenResourceError."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)

    async def scenario() -> None:
        pipe = await open_writer(write_fd)
        with pytest.raises(anyio.BrokenResourceError):
            await MessageWriter(pipe).send(message(1))
        pipe.close()

    anyio.run(scenario, backend_options=loop)


INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).encode() + b"\n"


@pytest.mark.parametrize("wire", [INITIALIZE, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n', b""])
def test_the_first_message_is_looked_at_and_still_received(wire: bytes) -> None:
    items, replies = received([wire + b"not json\n"], EVENT_LOOP, ahead=True)
    assert [item.message.id for item in items] == ([1] if wire else [])  # type: ignore[union-attr]
    assert [reply["error"]["code"] for reply in replies] == [types.PARSE_ERROR]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_the_server_runs_on_uvloops_event_loop() -> None:
    import asyncio

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert anyio.run(loop_module, backend_options=EVENT_LOOP).startswith("uvloop")


UNREADABLE = [
    pytest.param(b"{not json", types.PARSE_ERROR, None, id="not-json"),
    pytest.param(b'{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":"\\ud800"}}', types.INVALID_REQUEST, 3,
                 id="lone-surrogate"),
    pytest.param(b'{"jsonrpc":"2.0","id":"a","method":"ping","params":{"x":"\xff"}}', types.INVALID_REQUEST, "a",
                 id="not-utf8"),
    pytest.param(b'{"jsonrpc":"2.0","id":"\\udc00","method":"ping"}', types.INVALID_REQUEST, None,
                 id="surrogate-id"),
    pytest.param(b'{"jsonrpc":"2.0","id":4,"method":7}', types.INVALID_REQUEST, 4, id="not-json-rpc"),
    pytest.param(b'{"jsonrpc":"2.0","id":true,"method":7}', types.INVALID_REQUEST, None, id="bool-id"),
    pytest.param(b'{"jsonrpc":"2.0","id":5,"result":"\\ud800"}', types.INVALID_REQUEST, None, id="a-response"),
    pytest.param(b"[1, 2]", types.INVALID_REQUEST, None, id="a-batch"),
    pytest.param(b'"\xff', types.PARSE_ERROR, None, id="neither"),
]


@pytest.mark.parametrize(("line", "code", "request_id"), UNREADABLE)
def test_an_unreadable_line_is_answered_with_its_id_when_it_has_one(line: bytes, code: int,
                                                                    request_id: str | int | None) -> None:
    answer = read_line(line + b"\n")
    assert isinstance(answer, types.JSONRPCError)
    assert (answer.error.code, answer.id) == (code, request_id)
    json.loads(answer.model_dump_json(by_alias=True))  # the reply itself is valid JSON text


def test_a_readable_line_is_its_message_and_a_blank_one_nothing() -> None:
    assert isinstance(read_line(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n'), types.JSONRPCRequest)
    assert read_line(b" \r\n") is None


def test_a_file_on_stdin_is_served_by_the_sdk_and_its_bad_lines_answered(db_path: Path, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    pings = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % n for n in range(2, 12))
    requests.write_bytes(INITIALIZE + b"{not json\n" + pings)
    with open(requests, "rb") as stdin:
        done = subprocess.run([CAW, "--db", str(db_path), "--server"], stdin=stdin, capture_output=True, timeout=60)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    expected = [(1, False), (None, True), *((n, False) for n in range(2, 12))]
    assert [(a["id"], "error" in a) for a in answers] == expected, done.stderr
