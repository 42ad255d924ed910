"""MCP over the process's stdin and stdout: what ``caw --server`` runs for a local agent.

The SDK's ``stdio_server`` reads and writes through anyio's file wrappers: a worker-thread
round trip for every line read, every write and every flush, three a request, which is
most of a ping. Agents start servers with pipes (or, from Node, socket pairs), which the
event loop can poll, so for those this module hands the SDK streams that read and write
the wire without threads. It first does what the SDK does for its own streams: while
serving, fd 0 reads /dev/null and fd 1 writes to stderr, so neither a stray print nor a
child process (an agent runtime inherits them) can touch the protocol. Anything else on
stdin or stdout (a file, a terminal) keeps the SDK's threaded streams.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server

CHUNK = 1 << 16


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client until it closes stdin."""
    async with wire_streams() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


@asynccontextmanager
async def wire_streams() -> AsyncIterator[Any]:
    """The SDK's read and write streams of session messages, over whichever wire suits fds 0 and 1."""
    with claimed_wire() as wire:
        if wire is None:
            async with stdio_server() as streams:
                yield streams
        else:
            async with stdio_server(PipeLines(wire[0]), PipeWriter(wire[1])) as streams:  # type: ignore[arg-type]
                yield streams


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
