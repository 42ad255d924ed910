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
- ``ping``, the protocol's floor.
- start-up: spawn ``caw --server`` until the client's initialize completes, on a database
  that already exists (the usual case: migrations have run).

The reference figures are the TypeScript server's, measured the same way on this kind of
machine. Two baselines, measured in the same run, so that figures from a loaded machine
(which inflates them all) can be read against them; the load average is printed too:

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
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.engine import machine

CAW = str(Path(sys.executable).with_name("caw"))
LAYERS, WIDTH = 20, 10
CHECKPOINTS = 50
SAMPLES = 300
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


def server(db: Path) -> StdioServerParameters:
    return StdioServerParameters(command=CAW, args=["--db", str(db), "--server"])


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
                prepare: Callable[[], Awaitable[Any]] | None = None) -> list[float]:
    """Milliseconds of each of ``samples`` calls, after ten warm-up calls, each after an untimed ``prepare``."""
    for _ in range(10):
        await fn()
    times = []
    for _ in range(samples):
        if prepare is not None:
            await prepare()
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def start_task(client: Client, task_id: str, agent_id: str) -> None:
    await call(client, "task_claim", task_id=task_id, agent_id=agent_id)
    await call(client, "task_update_status", id=task_id, status="planning")
    await call(client, "task_update_status", id=task_id, status="in_progress")


async def latencies(db: Path) -> dict[str, list[float]]:
    """Each measure of caw-lab, then the bare SDK server's ping and the floor's (the floor
    answering with the context caw-lab loaded, saved beside ``db``)."""
    async with Client(server(db), mode="legacy") as client:
        wf = await call(client, "workflow_create", name="bench", source_type="prompt", source_content="bench",
                        max_parallel_tasks=WIDTH)
        ids = {t["name"]: t["id"] for t in (await call(client, "workflow_set_plan", id=wf["id"], plan=plan()))["tasks"]}
        got = {"workflow_next_tasks": await timed(lambda: call(client, "workflow_next_tasks", workflow_id=wf["id"]))}

        agent = (await call(client, "agent_register", name="bench", runtime="custom"))["id"]
        read, written = ids["root"], ids["L1.0"]
        await start_task(client, read, agent)
        for n in range(CHECKPOINTS):
            await call(client, "checkpoint_add", task_id=read, type="progress", summary=f"step {n} of the root")
        got["task_load_context"] = await timed(lambda: call(client, "task_load_context", task_id=read))
        loaded = await client.call_tool("task_load_context", {"task_id": read})
        canned = db.with_name("context-result.json")
        canned.write_text(loaded.model_dump_json(by_alias=True, exclude_none=True))
        got[AFTER_CHECKPOINT] = await timed(
            lambda: call(client, "task_load_context", task_id=read), AFTER_SAMPLES,
            prepare=lambda: call(client, "checkpoint_add", task_id=read, type="progress", summary="one more step"),
        )

        await call(client, "task_update_status", id=read, status="completed", outcome="done")
        await start_task(client, written, agent)
        got["checkpoint_add"] = await timed(
            lambda: call(client, "checkpoint_add", task_id=written, type="progress", summary="bench step")
        )
        got["ping"] = await pings(client)
    async with Client(bare_server(canned), mode="legacy") as client:
        got[f"task_load_context, {BARE} (same result, no work)"] = await timed(lambda: client.call_tool("echo", {}))
        got[f"ping, {BARE}"] = await pings(client)
    async with Client(floor_server(canned), mode="legacy") as client:
        got[f"task_load_context, {FLOOR}"] = await timed(lambda: client.call_tool("echo", {}))
        got[f"ping, {FLOOR}"] = await pings(client)
    return got


async def pings(client: Client) -> list[float]:
    return await timed(client.session.send_ping)  # Client.send_ping warns that modern protocols drop ping


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
    print(f"MCP over stdio, SDK client in legacy mode; {SAMPLES} calls per tool, {STARTS} start-ups\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="caw-bench-mcp-") as tmp:
        db = Path(tmp) / "bench.db"
        results = anyio.run(latencies, db)
        results.update(anyio.run(start_ups, db))
    print(table(results))


if __name__ == "__main__":
    sys.exit(main())
