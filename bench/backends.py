"""SQLite and D1 side by side: ``python -m bench.backends``.

The same workflow is built on a SQLite file and on a real local D1 (workerd via
Miniflare, reached over HTTP on 127.0.0.1, as ``caw d1 local`` serves it), then each
backend answers the same calls: p50/p95 of task_claim (each sample claims a new task),
checkpoint_add, workflow_next_tasks (every remaining task ready) and task_load_context
(a task with a trail of checkpoints). D1's column also counts HTTP requests per call:
against Cloudflare's D1 each costs a network round trip, so a call's latency there is
roughly this count times the round trip plus the figures measured here.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import caw_lab
from bench.engine import machine, timed
from caw_lab.d1local import LocalD1
from caw_lab.store import migrate
from caw_lab.store.d1 import D1Backend

TASKS = 400
TRAIL = 50
SAMPLES = {"task_claim": 200, "checkpoint_add": 300, "workflow_next_tasks": 100, "task_load_context": 50}


class CountingD1(D1Backend):
    """The D1 backend, counting the HTTP requests it sends."""

    requests = 0

    def _post(self, body: dict[str, Any], idempotent: bool) -> list[list[dict[str, Any]]]:
        self.requests += 1
        return super()._post(body, idempotent)


def calls(client: caw_lab.Client) -> dict[str, Callable[[], Any]]:
    """The four calls, on a fresh ready workflow: claims take pending tasks one by one."""
    wf = client.call("workflow_create", name="bench", source_type="prompt", source_content="bench",
                     max_parallel_tasks=TASKS)
    plan = client.call("workflow_set_plan", id=wf["id"],
                       plan={"summary": "bench", "tasks": [{"name": f"t{i}"} for i in range(TASKS)]})
    tasks = iter(t["id"] for t in plan["tasks"])
    agent = client.call("agent_register", name="bench", runtime="custom")["id"]
    worked = next(tasks)
    client.call("task_claim", task_id=worked, agent_id=agent)
    for i in range(TRAIL):
        client.call("checkpoint_add", task_id=worked, type="progress", summary=f"step {i} of the bench task",
                    files_changed=[f"src/module_{i}.py"])
    return {
        "task_claim": lambda: client.call("task_claim", task_id=next(tasks), agent_id=agent),
        "checkpoint_add": lambda: client.call("checkpoint_add", task_id=worked, type="progress", summary="bench"),
        "workflow_next_tasks": lambda: client.call("workflow_next_tasks", workflow_id=wf["id"]),
        "task_load_context": lambda: client.call("task_load_context", task_id=worked),
    }


def measure(client: caw_lab.Client) -> dict[str, tuple[float, float]]:
    return {name: timed(fn, SAMPLES[name]) for name, fn in calls(client).items()}


def requests_per_call(backend: CountingD1) -> dict[str, float]:
    client = caw_lab.Client(backend)
    counted = {}
    for name, fn in calls(client).items():
        before = backend.requests
        for _ in range(10):
            fn()
        counted[name] = (backend.requests - before) / 10
    return counted


def main() -> None:
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="caw-bench-") as tmp, LocalD1(Path(tmp) / "d1", ["bench"]) as d1:
        with caw_lab.connect(Path(tmp) / "bench.db") as client:
            sqlite = measure(client)
        os.environ.update(d1.env())
        backend = CountingD1("local", "bench", d1.token, d1.api)
        migrate(backend)
        remote = measure(caw_lab.Client(backend))
        counted = requests_per_call(backend)
    print(f"\nlatency ms (p50 / p95), {TASKS}-task workflow, {TRAIL}-checkpoint trail; local D1 over HTTP")
    print(f"{'call':<20}  {'SQLite':>15}  {'local D1':>15}  {'D1/SQLite p50':>13}  {'D1 requests':>11}")
    for name in SAMPLES:
        (s50, s95), (d50, d95) = sqlite[name], remote[name]
        print(f"{name:<20}  {f'{s50:.2f} / {s95:.2f}':>15}  {f'{d50:.2f} / {d95:.2f}':>15}  "
              f"{d50 / s50:>13.1f}  {counted[name]:>11.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
