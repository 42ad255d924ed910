"""MCP over the process's stdin and stdout: what ``caw --server`` runs for a local agent.

The SDK's ``stdio_server`` reads and writes through anyio's file wrappers, a worker-thread
round trip for every line read, every write and every flush, and passes each message on
through memory streams to and from a reader and a writer task. Agents start servers with
pipes (or, from Node, socket pairs), which the event loop can watch itself, so for those
this module reads and writes them with the loop's own pipe transports (uvloop's are libuv's,
in C: the pipe stays registered with the poller and a message costs one read and one write)
and gives the SDK's serving loop message streams that parse and write messages in the task
that asks. It first does what the SDK does for its own streams: while serving, fd 0 reads
/dev/null and fd 1 writes to stderr, so neither a stray print nor a child process (an agent
runtime inherits them) can touch the protocol. Anything else on stdin or stdout (a file, a
terminal) keeps the SDK's threaded streams.

Every line gets an answer (``lines``): one the server cannot read — not UTF-8, not JSON,
not JSON-RPC, longer than ``LINE_LIMIT`` — is answered with a JSON-RPC error on the wire
and the next line is read, where the SDK drops it silently and its client waits for ever.

Requests are answered one at a time, in the order they arrive (``InOrderDispatcher``). The
SDK's dispatcher spawns a task for every request so that a slow one does not hold up the rest.
On stdio that buys nothing: there is one client, the tools run on the event loop
(``build_server(tools_in_thread=False)``), so the loop is busy with one call until it returns
whatever the dispatcher does, and a request's task was a third of a ping's server time. The SDK
already reads ``initialize`` this way ("inline methods", which it still spawns and waits for);
here every request is, without the task.

What that gives up is what the loop-bound tools never had: a ``notifications/cancelled``
is read only after the call it names has answered, and a handler must not wait on the
client (sampling, elicitation, roots), as that answer would never be read. caw-lab's
handlers do neither, and HTTP keeps the SDK's dispatcher.

All of this is the stdio speed layer, in this one module; ``CAW_MCP_STDIO=sdk`` serves through
the SDK's own transport and loop instead (``run_sdk_stdio``): the way back should an SDK release
break the two private methods ``InOrderDispatcher`` overrides, and the baseline bench.mcp times.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import Context
from functools import partial
from typing import Any, Self

import anyio
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.models import InitializationOptions
from mcp.server.runner import serve_connection
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.dispatcher import OnRequest
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import MessageMetadata, SessionMessage
from mcp.shared.transport_context import TransportContext

from caw_lab.mcp import lines

LINE_LIMIT = 64 * 1024 * 1024
"""The longest message read, in bytes; a longer line is skipped to its end and answered with an
error, as one that is not JSON is. Far above a request the tools accept (``tools.MAX_TEXT_BYTES``
a text field)."""


async def run_sdk_stdio(server: Server[Any]) -> None:
    """Serve one client through the SDK's own ``stdio_server`` and ``Server.run``, unchanged."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client until it closes stdin.

    ``Server.run`` relays every message through one more task to find the protocol era
    from the client's first request. Here that request is looked at in place (on either
    wire, ``Messages``): a client that opens with ``initialize`` (every agent today) is served by the
    SDK's handshake serving, one request at a time (``serve_in_order``), anything else by
    ``Server.run``. Like the SDK's HTTP transport, which serves handshakes the same way,
    and unlike ``Server.run``, that does not refuse a request carrying the 2026 envelope on
    a handshake connection: it answers it. Served in order, every request read before stdin
    closes is answered before the server ends.
    """
    options = server.create_initialization_options()
    async with wire_streams() as (read_stream, write_stream):
        if await read_stream.opens_with_initialize():
            await serve_in_order(server, read_stream, write_stream, init_options=options)
        else:
            await server.run(read_stream, write_stream, options)


@asynccontextmanager
async def wire_streams() -> AsyncIterator[Any]:
    """The SDK's read and write streams of session messages, over whichever wire suits fds 0 and 1."""
    with claimed_wire() as wire:
        if wire is None:
            async with stdio_server() as (read_stream, write_stream):
                yield Answered(read_stream, write_stream), write_stream
            return
        reader, writer = await open_reader(wire[0]), await open_writer(wire[1])
        try:
            messages = MessageWriter(writer)
            yield MessageReader(reader, messages), messages
        finally:
            writer.close()
            with suppress(ConnectionError):  # a client that hung up has nothing left to read
                await writer.wait_closed()  # the last answers have left


def pollable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextmanager
def claimed_wire() -> Iterator[tuple[int, int] | None]:
    """Copies of fds 0 and 1 for the protocol alone, its to close, or None to leave both to the SDK."""
    if sys.platform == "win32" or not (pollable(0) and pollable(1)):
        yield None
        return
    saved = os.dup(0), os.dup(1)  # above 2, as 0-2 are open; not inherited by children
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr: stray output is dropped instead
        os.dup2(null, 1)
    os.close(null)
    try:
        yield os.dup(saved[0]), os.dup(saved[1])
    finally:
        for fd, std in zip(saved, (0, 1), strict=True):
            os.set_blocking(fd, True)  # the pipe transports made the shared file non-blocking
            os.dup2(fd, std)
            os.close(fd)


async def open_reader(fd: int) -> asyncio.StreamReader:
    """The lines arriving on ``fd``, read by the event loop; the reader owns and closes ``fd``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(fd, "rb", 0))
    return reader


async def open_writer(fd: int) -> asyncio.StreamWriter:
    """Writes to ``fd`` by the event loop, which keeps what a full pipe cannot take yet; owns and closes ``fd``."""
    loop = asyncio.get_running_loop()
    protocol = asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), loop=loop)  # its flow control, for drain
    transport, _ = await loop.connect_write_pipe(lambda: protocol, os.fdopen(fd, "wb", 0))
    return asyncio.StreamWriter(transport, protocol, None, loop)


class OnTheWire:
    """A stream over a wire ``wire_streams`` owns: closing it leaves the pipe to that."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Messages(OnTheWire):
    """The SDK's read stream, handing the serving loop messages only: a line that holds none is
    answered on the wire and the next one read. The first message can be looked at in place."""

    def __init__(self) -> None:
        self.ahead: SessionMessage | None = None

    async def next_message(self) -> SessionMessage:
        """The next message; raises anyio.EndOfStream when the client closed stdin."""
        raise NotImplementedError

    async def opens_with_initialize(self) -> bool:
        """Whether the first message is the handshake's request; it stays to be received."""
        try:
            self.ahead = await self.receive()
        except anyio.EndOfStream:
            return False
        request = self.ahead.message
        return isinstance(request, types.JSONRPCRequest) and request.method == "initialize"

    async def receive(self) -> SessionMessage:
        if self.ahead is not None:
            ahead, self.ahead = self.ahead, None
            return ahead
        return await self.next_message()

    def __aiter__(self) -> Messages:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class MessageReader(Messages):
    """Lines off the loop's pipe transport, each parsed as the serving loop asks for it
    (``lines.read_line``); the answers to unusable ones go out through ``replies``."""

    def __init__(self, wire: asyncio.StreamReader, replies: MessageWriter) -> None:
        super().__init__()
        self.wire = wire
        self.replies = replies

    async def next_message(self) -> SessionMessage:
        while True:
            read = await self.next_line()
            if isinstance(read, types.JSONRPCError):
                with suppress(anyio.BrokenResourceError):  # the client left: the next read ends the session
                    await self.replies.send(SessionMessage(read))
            elif read is not None:
                return SessionMessage(read)

    async def next_line(self) -> types.JSONRPCMessage | types.JSONRPCError | None:
        """The next line's message or the error answering it; raises EndOfStream when the client closed stdin."""
        try:
            line = await self.wire.readuntil(b"\n")
        except asyncio.IncompleteReadError as eof:
            if not eof.partial:
                raise anyio.EndOfStream from None
            line = eof.partial  # the last line, without its newline
        except asyncio.LimitOverrunError as overrun:
            await self.skip_line(overrun.consumed)
            return lines.oversized(LINE_LIMIT)
        return lines.read_line(line)

    async def skip_line(self, buffered: int) -> None:
        """Drop the rest of an overlong line, ``buffered`` bytes of which wait in the reader, never holding more."""
        while True:
            await self.wire.readexactly(buffered)
            try:
                await self.wire.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as overrun:
                buffered = overrun.consumed
            except asyncio.IncompleteReadError:
                return


class Answered(Messages):
    """The SDK's own read stream (a file or a terminal on stdin), with the lines it could not
    parse answered: it hands those on as exceptions, which its serving loop drops unanswered.
    It has lost the line by then, so the answer is a parse error with ``id: null``."""

    UNPARSED = lines.error(types.PARSE_ERROR, "Parse error: the line is not a JSON-RPC message", None)

    def __init__(self, stream: Any, replies: Any) -> None:
        super().__init__()
        self.stream = stream
        self.replies = replies

    async def next_message(self) -> SessionMessage:
        while isinstance(item := await self.stream.receive(), Exception):
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.replies.send(SessionMessage(self.UNPARSED))
        return item

    async def aclose(self) -> None:
        await self.stream.aclose()


class MessageWriter(OnTheWire):
    """The SDK's write stream: each message handed whole to the loop's pipe transport by the
    task that sends it, so frames never interleave; a sender waits only while the pipe is full."""

    def __init__(self, pipe: asyncio.StreamWriter) -> None:
        self.pipe = pipe

    async def send(self, message: SessionMessage, /) -> None:
        line = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        if self.pipe.is_closing():  # the client hung up; uvloop's closed transport raises on a write
            raise anyio.BrokenResourceError
        self.pipe.write(line.encode("utf-8"))
        try:
            await self.pipe.drain()
        except ConnectionError as exc:  # the client hung up while this waited
            raise anyio.BrokenResourceError from exc


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
        self, req: types.JSONRPCRequest, metadata: MessageMetadata, on_request: OnRequest, sender_ctx: Context | None
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
