"""How fast ``caw --server`` answers an MCP client over stdio: ``python -m bench.mcp``.

Everything is measured from the official ``mcp`` SDK client, in ``legacy`` mode (the
initialize handshake today's agents speak; ``ping`` exists only there), against the
installed ``caw`` console script in a real subprocess — the way an agent sees the server,
so each figure includes the client's own encoding and validation.

- ``workflow_next_tasks`` on a 201-task workflow: one root, then 20 layers of 10 tasks,
  each task depending on 2 tasks of the layer before (the first layer on the root).
- ``task_load_context`` on a task with 50 checkpoints: the same call again, as the reference
  was timed, which gets the answer already given at an unchanged change-feed head; and,
  with no target, each call after an untimed ``checkpoint_add`` on the task, the reload an
  agent makes after writing, which the engine answers afresh.
- ``checkpoint_add`` on another task (so the context read above does not grow).
- ``ping``, the protocol's floor: 1,000 of them, as its target is the tightest and a ping
  costs a third of a millisecond.
- start-up: spawn ``caw --server`` until the client's initialize completes, on a database
  that already exists (the usual case: migrations have run).

The reference figures are the TypeScript server's, measured the same way on this kind of
machine. Two baselines, measured in the same run (the floor's ``task_load_context`` and
``ping`` in turns with caw-lab's, ten rounds each, so that a slow spell on a shared machine,
which inflates every figure, falls on both alike); the load average is printed too:

- the SDK's own low-level ``Server`` on the SDK's stdio transport, pinged and started
  the same way (its start-ups alternate with ours), and with one tool answering every
  call with the very result our ``task_load_context`` returned: what the Python SDK
  costs before caw-lab does any work;
- the floor (``bench.floor_server``): a server with no SDK and no work, answering ``ping``
  and, for every ``tools/call``, the very result our ``task_load_context`` returned — what
  the client and the pipe alone cost for a ping and for a result of that size.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.engine import machine

CAW = str(Path(sys.executable).with_name("caw"))
LAYERS, WIDTH = 20, 10
CHECKPOINTS = 50
SAMPLES = 300
PINGS = 1000
ROUNDS = 10
STARTS = 10
REFERENCE_MS = {
    "workflow_next_tasks": 1.4,
    "task_load_context": 0.9,
    "checkpoint_add": 7.5,
    "ping": 0.35,
    "start-up": 540.0,
}
TARGET_MS = {**REFERENCE_MS, "start-up": 500.0}
AFTER_SAMPLES = 60
AFTER_CHECKPOINT = (f"task_load_context after a checkpoint_add on the task "
                    f"({CHECKPOINTS} to {CHECKPOINTS + 10 + AFTER_SAMPLES} checkpoints)")
BARE = "bare SDK server"
FLOOR = "floor (no server work)"
OURS = "caw-lab's stdio loop"
SDK_LOOP = "the SDK's stdio loop (CAW_MCP_STDIO=sdk)"
BARE_SERVER = """
import sys
import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

CANNED = types.CallToolResult.model_validate_json(open(sys.argv[1]).read()) if len(sys.argv) > 1 else None
ECHO = types.Tool(name="echo", input_schema={"type": "object"})


async def list_tools(ctx, params):
    return types.ListToolsResult(tools=[ECHO])


async def call_tool(ctx, params):
    return CANNED


async def main():
    server = Server("bare", on_list_tools=list_tools, on_call_tool=call_tool) if CANNED else Server("bare")
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())

anyio.run(main)
"""


def plan() -> dict[str, Any]:
    """The layered DAG: layer ``n`` task ``i`` waits on tasks ``i`` and ``i+1`` of layer ``n-1``."""
    tasks: list[dict[str, Any]] = [{"name": "root"}]
    for layer in range(1, LAYERS + 1):
        for i in range(WIDTH):
            before = ["root"] if layer == 1 else [f"L{layer - 1}.{i}", f"L{layer - 1}.{(i + 1) % WIDTH}"]
            tasks.append({"name": f"L{layer}.{i}", "depends_on": before})
    return {"summary": "bench", "tasks": tasks}


def server(db: Path, stdio_loop: str = "caw") -> StdioServerParameters:
    """``caw --server``; with ``stdio_loop="sdk"``, serving through the SDK's own stdio loop."""
    env = {**os.environ, "CAW_MCP_STDIO": stdio_loop}
    return StdioServerParameters(command=CAW, args=["--db", str(db), "--server"], env=env)


def bare_server(canned: Path | None = None) -> StdioServerParameters:
    """The bare SDK server; with ``canned``, it also has one tool, ``echo``, answering with that result."""
    return StdioServerParameters(command=sys.executable, args=["-c", BARE_SERVER, *([str(canned)] if canned else [])])


def floor_server(result: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "bench.floor_server", str(result)],
                                 cwd=str(Path(__file__).resolve().parent.parent))


async def call(client: Client, name: str, /, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    if result.is_error:
        raise RuntimeError(f"{name} failed: {result.content[0].text}")
    return result.structured_content


async def timed(fn: Callable[[], Awaitable[Any]], samples: int = SAMPLES,
                prepare: Callable[[], Awaitable[Any]] | None = None, warm_up: int = 10) -> list[float]:
    """Milliseconds of each of ``samples`` calls, after ``warm_up`` untimed ones, each after an untimed ``prepare``."""
    for _ in range(warm_up):
        await fn()
    times = []
    for _ in range(samples):
        if prepare is not None:
            await prepare()
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def in_turns(calls: dict[str, Callable[[], Awaitable[Any]]], samples: int = SAMPLES) -> dict[str, list[float]]:
    """``timed`` for a measure and its baseline, a ``ROUNDS``-th of the samples of each in turn,
    so that a slow spell on a shared machine falls on both alike."""
    for fn in calls.values():
        await timed(fn, 0)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, fn in calls.items():
            times[name] += await timed(fn, samples // ROUNDS, warm_up=0)
    return times


async def start_task(client: Client, task_id: str, agent_id: str) -> None:
    await call(client, "task_claim", task_id=task_id, agent_id=agent_id)
    await call(client, "task_update_status", id=task_id, status="planning")
    await call(client, "task_update_status", id=task_id, status="in_progress")


async def latencies(db: Path) -> dict[str, list[float]]:
    """Each measure of caw-lab, ``task_load_context`` and ``ping`` in turns with the floor's; then
    the bare SDK server's (both baselines answering with the context caw-lab loaded, saved
    beside ``db``). The bare server is timed apart: its transport's worker threads, idle
    between its turns, slowed the others' pings by a few hundredths of a millisecond."""
    canned = db.with_name("context-result.json")
    async with AsyncExitStack() as servers:
        client = await servers.enter_async_context(Client(server(db), mode="legacy"))
        wf = await call(client, "workflow_create", name="bench", source_type="prompt", source_content="bench",
                        max_parallel_tasks=WIDTH)
        ids = {t["name"]: t["id"] for t in (await call(client, "workflow_set_plan", id=wf["id"], plan=plan()))["tasks"]}
        got = {"workflow_next_tasks": await timed(lambda: call(client, "workflow_next_tasks", workflow_id=wf["id"]))}
        agent = (await call(client, "agent_register", name="bench", runtime="custom"))["id"]
        read, written = ids["root"], ids["L1.0"]
        await start_task(client, read, agent)
        for n in range(CHECKPOINTS):
            await call(client, "checkpoint_add", task_id=read, type="progress", summary=f"step {n} of the root")
        loaded = await client.call_tool("task_load_context", {"task_id": read})
        canned.write_text(loaded.model_dump_json(by_alias=True, exclude_none=True))
        floor = await servers.enter_async_context(Client(floor_server(canned), mode="legacy"))
        got |= await in_turns({"task_load_context": lambda: call(client, "task_load_context", task_id=read),
                               f"task_load_context, {FLOOR}": lambda: floor.call_tool("echo", {})})
        got[AFTER_CHECKPOINT] = await timed(
            lambda: call(client, "task_load_context", task_id=read), AFTER_SAMPLES,
            prepare=lambda: call(client, "checkpoint_add", task_id=read, type="progress", summary="one more step"),
        )
        await call(client, "task_update_status", id=read, status="completed", outcome="done")
        await start_task(client, written, agent)
        got["checkpoint_add"] = await timed(
            lambda: call(client, "checkpoint_add", task_id=written, type="progress", summary="bench step")
        )
        got |= await in_turns({"ping": pinger(client), f"ping, {FLOOR}": pinger(floor)}, PINGS)
        sdk = await servers.enter_async_context(Client(server(db, "sdk"), mode="legacy"))
        got |= await in_turns({f"task_load_context, {OURS}": lambda: call(client, "task_load_context", task_id=read),
                               f"task_load_context, {SDK_LOOP}": lambda: call(sdk, "task_load_context", task_id=read)})
        got |= await in_turns({f"ping, {OURS}": pinger(client), f"ping, {SDK_LOOP}": pinger(sdk)}, PINGS)
    async with Client(bare_server(canned), mode="legacy") as bare:
        got[f"task_load_context, {BARE} (same result, no work)"] = await timed(lambda: bare.call_tool("echo", {}))
        got[f"ping, {BARE}"] = await timed(pinger(bare), PINGS)
    return got


def pinger(client: Client) -> Callable[[], Awaitable[Any]]:
    return client.session.send_ping  # Client.send_ping warns that modern protocols drop ping


async def start_ups(db: Path) -> dict[str, list[float]]:
    """Spawn-to-initialized of ``STARTS`` fresh caw servers and as many bare ones, alternately;
    each is shut down before the next starts."""
    times: dict[str, list[float]] = {"start-up": [], f"start-up, {BARE}": []}
    for _ in range(STARTS):
        for name, params in zip(times, (server(db), bare_server()), strict=True):
            start = time.perf_counter()
            async with Client(params, mode="legacy"):
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def table(results: dict[str, list[float]]) -> str:
    """A markdown table: p50 and p95 against the reference's median and our target (none for the baseline)."""
    lines = ["| measure | p50 ms | p95 ms | reference p50 ms | target ms | met |",
             "| --- | ---: | ---: | ---: | ---: | :---: |"]
    for name, times in results.items():
        p50, p95 = percentiles(times)
        if name in TARGET_MS:
            versus = f"{REFERENCE_MS[name]:g} | {TARGET_MS[name]:g} | {'yes' if p50 <= TARGET_MS[name] else 'no'}"
        else:
            versus = "| |"
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {versus} |")
    return "\n".join(lines)


def main() -> None:
    print(f"machine: {machine()}, {datetime.date.today().isoformat()}")
    print(f"MCP over stdio, SDK client in legacy mode; {SAMPLES} calls per tool, {PINGS} pings, {STARTS} start-ups\n",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="caw-bench-mcp-") as tmp:
        db = Path(tmp) / "bench.db"
        results = anyio.run(latencies, db)
        results.update(anyio.run(start_ups, db))
    print(table(results))


if __name__ == "__main__":
    sys.exit(main())
