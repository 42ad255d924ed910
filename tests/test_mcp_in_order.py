"""The stdio server's dispatcher: every request answered before the next is read, without a task."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.runner import serve_loop
from mcp.shared.message import SessionMessage

from caw_lab.mcp.stdio import serve_in_order

HANDSHAKE = [
    types.JSONRPCRequest(jsonrpc="2.0", id=0, method="initialize", params={
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    types.JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized"),
]


def call(request_id: int, name: str) -> types.JSONRPCRequest:
    return types.JSONRPCRequest(jsonrpc="2.0", id=request_id, method="tools/call", params={"name": name})


async def answer_slowly_to_slow(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> Any:
    """A handler that waits on the loop for the call named "slow", long enough for the next to overtake it."""
    if params.name == "slow":
        await anyio.sleep(0.2)
    return types.CallToolResult(content=[types.TextContent(type="text", text=params.name)])


async def answers(serve: Any, requests: list[types.JSONRPCMessage]) -> list[types.JSONRPCMessage]:
    """What ``serve`` answers to ``requests`` sent all at once, in the order the answers left."""
    server = Server("t", on_call_tool=answer_slowly_to_slow)
    size = len(HANDSHAKE) + len(requests)
    to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](size)
    server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](size)
    for request in [*HANDSHAKE, *requests]:
        to_server.send_nowait(SessionMessage(request))
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(serve, init_options=server.create_initialization_options()),
                      server, server_reads, server_writes)
        got = [(await from_server.receive()).message for _ in range(1 + len(requests))]
        to_server.close()  # the SDK's loop drops what is still in flight when the client leaves
    return got[1:]  # after initialize's


def served(serve: Any, requests: list[types.JSONRPCMessage]) -> list[types.JSONRPCMessage]:
    return anyio.run(answers, serve, requests)


def sdk_serve_loop(server: Server[Any], read: Any, write: Any, *, init_options: Any) -> Any:
    return serve_loop(server, read, write, lifespan_state=None, init_options=init_options)


@pytest.mark.parametrize(("serve", "order"), [(serve_in_order, [1, 2]), (sdk_serve_loop, [2, 1])],
                         ids=["in-order", "sdk-for-contrast"])
def test_a_waiting_handler_is_not_overtaken(serve: Any, order: list[int]) -> None:
    """The SDK's own loop answers the quick call first; ours answers in arrival order."""
    got = served(serve, [call(1, "slow"), call(2, "quick")])
    assert [message.id for message in got] == order  # type: ignore[union-attr]


def test_answers_and_errors_are_the_sdks() -> None:
    requests: list[types.JSONRPCMessage] = [
        types.JSONRPCRequest(jsonrpc="2.0", id=1, method="ping"),
        types.JSONRPCRequest(jsonrpc="2.0", id=2, method="no/such/method"),
        types.JSONRPCRequest(jsonrpc="2.0", id=3, method="tools/call", params={"arguments": {}}),
        call(4, "quick"),
    ]
    ours, sdks = served(serve_in_order, requests), served(sdk_serve_loop, requests)
    assert [m.model_dump() for m in ours] == [m.model_dump() for m in sdks]
    assert [type(m).__name__ for m in ours] == ["JSONRPCResponse", "JSONRPCError", "JSONRPCError", "JSONRPCResponse"]


def tasks_started(serve: Any, requests: list[types.JSONRPCMessage]) -> int:
    """How many tasks the event loop started while ``serve`` answered ``requests``."""
    started = 0

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        nonlocal started
        started += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def scenario() -> None:
        asyncio.get_running_loop().set_task_factory(counting)
        await answers(serve, requests)

    anyio.run(scenario)
    return started


def test_no_task_is_started_for_a_request() -> None:
    """The point of the dispatcher: a request's own task was a third of a ping's server time."""
    pings: list[types.JSONRPCMessage] = [types.JSONRPCRequest(jsonrpc="2.0", id=n, method="ping") for n in range(1, 6)]
    sdks, ours = tasks_started(sdk_serve_loop, pings), tasks_started(serve_in_order, pings)
    assert sdks - ours == 1 + len(pings), "the SDK starts one for initialize and one for each ping"
