"""A stdio connection's requests answered one at a time, in the order they arrive.

The SDK's dispatcher spawns a task for every request so that a slow one does not hold up
the rest. On stdio that buys nothing: there is one client, the tools run on the event loop
(``build_server(tools_in_thread=False)``), so the loop is busy with one call until it
returns whatever the dispatcher does, and a request's task was a third of a ping's server
time. The SDK already reads ``initialize`` this way ("inline methods", which it still
spawns and waits for); here every request is, without the task.

What that gives up is what the loop-bound tools never had: a ``notifications/cancelled``
is read only after the call it names has answered, and a handler must not wait on the
client (sampling, elicitation, roots), as that answer would never be read. caw-lab's
handlers do neither, and HTTP keeps the SDK's dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import Context
from functools import partial
from typing import Any

from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.models import InitializationOptions
from mcp.server.runner import serve_connection
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.dispatcher import OnRequest
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import MessageMetadata, SessionMessage
from mcp.shared.transport_context import TransportContext
from mcp_types import JSONRPCRequest


class InOrderDispatcher(JSONRPCDispatcher[TransportContext]):
    """The SDK's JSON-RPC dispatcher, with each request handled in the read loop.

    The SDK's ``_dispatch_request`` does the bookkeeping (the request's dispatch context,
    its cancel scope, its entry among those in flight) and ends by spawning
    ``_handle_request``; that one spawn is kept back and awaited instead. Those are the
    SDK's private methods: ``tests/test_mcp_in_order.py`` fails if a release moves them.
    """

    def __init__(
        self, read_stream: ReadStream[SessionMessage | Exception], write_stream: WriteStream[SessionMessage]
    ) -> None:
        super().__init__(read_stream, write_stream)
        self.answer_next: Callable[[], Awaitable[None]] | None = None

    async def _dispatch_request(
        self, req: JSONRPCRequest, metadata: MessageMetadata, on_request: OnRequest, sender_ctx: Context | None
    ) -> None:
        await super()._dispatch_request(req, metadata, on_request, sender_ctx)
        if (answer := self.answer_next) is not None:
            self.answer_next = None
            await answer()

    def _spawn(self, fn: Callable[..., Awaitable[Any]], *args: object, sender_ctx: Context | None) -> None:
        if fn == self._handle_request and sender_ctx is None:  # a sender's context needs a task to run in
            self.answer_next = partial(fn, *args)
        else:
            super()._spawn(fn, *args, sender_ctx=sender_ctx)


async def serve_in_order(
    server: Server[Any],
    read_stream: ReadStream[SessionMessage | Exception],
    write_stream: WriteStream[SessionMessage],
    *,
    init_options: InitializationOptions,
) -> None:
    """The SDK's handshake serving loop (``mcp.server.runner.serve_loop``) on an ``InOrderDispatcher``."""
    dispatcher = InOrderDispatcher(read_stream, write_stream)
    async with server.lifespan(server) as state:
        await serve_connection(
            server, dispatcher, connection=Connection.for_loop(dispatcher), lifespan_state=state,
            init_options=init_options,
        )


__all__ = ["InOrderDispatcher", "serve_in_order"]
