"""MCP over the process's stdin and stdout: what ``caw --server`` runs for a local agent.

The SDK's ``stdio_server`` reads and writes through anyio's file wrappers, a worker-thread
round trip for every line read, every write and every flush, and passes each message on
through memory streams to and from a reader and a writer task: with the relay below,
about ten turns of the event loop a request, most of a ping. Agents start servers with
pipes (or, from Node, socket pairs), which the event loop can poll, so for those this
module gives the SDK's serving loop message streams that parse from and write to the
wire themselves, on the loop, in the task that asks. It first does what the SDK does for
its own streams: while serving, fd 0 reads /dev/null and fd 1 writes to stderr, so
neither a stray print nor a child process (an agent runtime inherits them) can touch the
protocol. Anything else on stdin or stdout (a file, a terminal) keeps the SDK's threaded
streams.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Self

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

CHUNK = 1 << 16


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client until it closes stdin.

    ``Server.run`` relays every message through one more task to find the protocol era
    from the client's first request. On our own wire that request can be looked at in
    place: a client that opens with ``initialize`` (every agent today) is served by the
    SDK's handshake loop directly, anything else by ``Server.run``. That loop is the one
    the SDK's HTTP transport serves with; unlike ``Server.run`` it does not refuse a
    request carrying the 2026 envelope on a handshake connection, it answers it.
    """
    options = server.create_initialization_options()
    async with wire_streams() as (read_stream, write_stream):
        if isinstance(read_stream, MessageReader) and await read_stream.opens_with_initialize():
            async with server.lifespan(server) as state:
                await serve_loop(server, read_stream, write_stream, lifespan_state=state, init_options=options)
        else:
            await server.run(read_stream, write_stream, options)


@asynccontextmanager
async def wire_streams() -> AsyncIterator[Any]:
    """The SDK's read and write streams of session messages, over whichever wire suits fds 0 and 1."""
    with claimed_wire() as wire:
        if wire is None:
            async with stdio_server() as streams:
                yield streams
        else:
            yield MessageReader(PipeLines(wire[0])), MessageWriter(PipeWriter(wire[1]))


def pollable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextmanager
def claimed_wire() -> Iterator[tuple[int, int] | None]:
    """Private non-blocking copies of fds 0 and 1 for the protocol, or None to leave both to the SDK."""
    if sys.platform == "win32" or not (pollable(0) and pollable(1)):
        yield None
        return
    wire = os.dup(0), os.dup(1)  # above 2, as 0-2 are open; not inherited by children
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr: stray output is dropped instead
        os.dup2(null, 1)
    os.close(null)
    for fd in wire:
        os.set_blocking(fd, False)
    try:
        yield wire
    finally:
        for fd, std in zip(wire, (0, 1), strict=True):
            os.set_blocking(fd, True)
            os.dup2(fd, std)
            os.close(fd)


class PipeLines:
    """The lines arriving on a non-blocking fd, as the SDK's reader iterates them."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def __aiter__(self) -> PipeLines:
        return self

    async def __anext__(self) -> str:
        while (end := self.pending.find(b"\n")) < 0:
            chunk = await self.read()
            if not chunk:
                if not self.pending:
                    raise StopAsyncIteration
                end = len(self.pending)
                break
            self.pending += chunk
        line, self.pending = self.pending[: end + 1], self.pending[end + 1 :]
        return line.decode("utf-8", errors="replace")

    async def read(self) -> bytes:
        while True:
            try:
                return os.read(self.fd, CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self.fd)


class OnTheWire:
    """A stream over the wire ``claimed_wire`` owns: closing it leaves the fd to that, which
    restores and closes it; nothing is buffered to flush."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class MessageReader(OnTheWire):
    """The SDK's read stream: each line parsed into a session message as the serving loop asks
    for it. A line that is not JSON-RPC is handed on as its exception, as the SDK's reader does."""

    def __init__(self, lines: PipeLines) -> None:
        self.lines = lines
        self.ahead: SessionMessage | Exception | None = None

    async def opens_with_initialize(self) -> bool:
        """Whether the first message is the handshake's request; it stays to be received."""
        try:
            self.ahead = await self.receive()
        except anyio.EndOfStream:
            return False
        request = getattr(self.ahead, "message", None)
        return isinstance(request, types.JSONRPCRequest) and request.method == "initialize"

    async def receive(self) -> SessionMessage | Exception:
        if self.ahead is not None:
            ahead, self.ahead = self.ahead, None
            return ahead
        async for line in self.lines:
            try:
                return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
            except ValueError as exc:  # pydantic's ValidationError included
                return exc
        raise anyio.EndOfStream

    def __aiter__(self) -> MessageReader:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class MessageWriter(OnTheWire):
    """The SDK's write stream: each message written to the wire by the task that sends it.

    A lock keeps frames whole when a full pipe makes one sender wait while another
    arrives; uncontended it costs no task switch.
    """

    def __init__(self, pipe: PipeWriter) -> None:
        self.pipe = pipe
        self.lock = anyio.Lock(fast_acquire=True)

    async def send(self, message: SessionMessage, /) -> None:
        line = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        async with self.lock:
            await self.pipe.write(line)


class PipeWriter:
    """Writes to a non-blocking fd, waiting while the pipe is full; nothing is buffered to flush."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                data = data[os.write(self.fd, data) :]
            except BlockingIOError:
                await anyio.wait_writable(self.fd)

    async def flush(self) -> None:
        """Each write reached the pipe before it returned."""
