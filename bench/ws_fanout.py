"""Event delivery latency to many WebSocket clients: ``python -m bench.ws_fanout [clients] [changes]``.

A real ``caw --server --transport http`` on a fresh SQLite file; ``clients`` WebSocket
clients (default 50) subscribe to one workflow's channel; a writer in this process (its
own connection to the file, as any other process would be) makes ``changes`` changes
(``task_update_status`` on one task, back and forth) spaced ``GAP_S`` apart, each timed
when its tool call returns. Latency is from that return to each client's receipt of the
matching ``task:updated``, so it includes the server's poll interval (50 ms), the query,
the fan-out and the socket. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

import caw_lab

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from mcp_session import http_server

GAP_S = 0.1


async def listen(url: str, token: str, channel: str, expected: int, ready: asyncio.Event,
                 counter: list[int], arrivals: dict[int, float], slot: int, total: int) -> None:
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_queue=None) as ws:
        await ws.recv()  # welcome
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        seen = 0
        while seen < expected:
            message = json.loads(await ws.recv())
            if message["type"] == "task:updated":
                arrivals[slot * 1_000_000 + message["seq"]] = time.monotonic()
                seen += 1


def writer(db: Path, task_id: str, changes: int) -> dict[int, float]:
    """seq -> when the call that wrote it returned."""
    done: dict[int, float] = {}
    with caw_lab.connect(db) as client:
        for i in range(changes):
            status = "paused" if i % 2 == 0 else "in_progress"
            client.call("task_update_status", id=task_id, status=status)
            returned = time.monotonic()
            done[client.call("events_list", limit=1)["head"]] = returned
            time.sleep(GAP_S)
    return done


async def main(clients: int, changes: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="caw-ws-bench-"))
    db = folder / "workflows.db"
    with caw_lab.connect(db) as client:
        wf = client.call("workflow_create", name="bench", source_type="prompt", source_content="x")
        plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": [{"name": "t"}]})
        task_id = plan["tasks"][0]["id"]
        agent = client.call("agent_register", name="w", runtime="claude_code")
        client.call("task_claim", task_id=task_id, agent_id=agent["id"])
        client.call("task_update_status", id=task_id, status="planning")
        client.call("task_update_status", id=task_id, status="in_progress")
    with http_server(db) as server:
        url = server.url.replace("http://", "ws://") + "/ws"
        ready, counter, arrivals = asyncio.Event(), [0], {}
        tasks = [asyncio.create_task(listen(url, str(server.token), f"workflow:{wf['id']}", changes, ready,
                                            counter, arrivals, slot, clients)) for slot in range(clients)]
        await asyncio.wait_for(ready.wait(), 120)
        done = await asyncio.to_thread(writer, db, task_id, changes)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    latencies = sorted((at - done[key % 1_000_000]) * 1000 for key, at in arrivals.items())
    quantiles = statistics.quantiles(latencies, n=100)
    return {"clients": clients, "changes": changes, "deliveries": len(latencies),
            "p50_ms": round(quantiles[49], 1), "p95_ms": round(quantiles[94], 1), "p99_ms": round(quantiles[98], 1),
            "max_ms": round(latencies[-1], 1), "load_average": os.getloadavg()[0]}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    print(json.dumps(asyncio.run(main(count, rounds))))
