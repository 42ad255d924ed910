"""How fast ``task_load_context`` is with the learned ranker: ``python -m bench.context``.

- **Large**: a workflow of 1,000 tasks and 20,000 checkpoints (20 per task, half of them
  naming files), every task but the last completed with an outcome; the context loaded is
  the last task's, so the learned ranker orders all 999 earlier tasks and the task's 15
  older checkpoints. Texts are drawn from a fixed vocabulary with a seeded generator.
- **Small**: the task with 50 checkpoints of ``bench.mcp`` (the root of its 201-task
  layered workflow), which the reference answers in about 0.9 ms over MCP without ranking.

Each is timed **repeated** (the same call again at the same change-feed head, which gets
the answer already given: ``caw_lab.context.answers``), **warm** (the same, with that kept
answer forgotten before every call: the engine's own work on an unchanged workflow),
**cold** (the summary cache emptied and the process-level caches cleared,
``caw_lab.context.caches.clear``, before every call: what a fresh server pays on its first
load) and **after a checkpoint** (a ``checkpoint_add`` on the task before every call: the
usual reload, which sees a new change-feed head and so rereads the workflow, while the
ranking of the unchanged earlier tasks stays cached). Calls go through
``caw_lab.connect(path).call`` in this process, so the figures are the engine's, without a
transport; the default adaptive budget and the default ``ranker="learned"``.
"""

from __future__ import annotations

import datetime
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import caw_lab
from bench.engine import machine
from bench.mcp import CHECKPOINTS
from bench.mcp import plan as layered_plan
from caw_lab.context import answers, caches

TASKS = 1_000
PER_TASK = 20
SAMPLES = 60
LARGE = f"{TASKS:,} tasks, {TASKS * PER_TASK:,} checkpoints"
SMALL = f"{CHECKPOINTS} checkpoints (reference: 0.9 ms over MCP, unranked)"
WARM = "warm"
TARGET_MS = {(LARGE, WARM): 25.0, (LARGE, "cold"): 250.0}
SEED = 7

WORDS = (
    "parser cli client server request response header cookie cache timeout retry stream chunk encoding "
    "decode encode json csv table column index query schema migration insert upsert delete update "
    "transaction lock worker queue plugin config option flag default docs example test fixture coverage "
    "type hint error exception warning log trace format lint release version build package install wheel "
    "async sync thread pool connection proxy auth token session redirect url path file directory glob "
    "unicode bytes string number date time zone locale memory speed benchmark profile refactor rename "
    "remove add fix support handle allow avoid improve document simplify expose validate"
).split()
DIRS = ("core", "cli", "http", "db", "docs", "tests", "utils", "plugins", "io", "api")


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def some_files(rng: random.Random) -> list[str]:
    """One to four files, a few directories and modules far more often than the rest."""
    return [f"src/{DIRS[int(rng.paretovariate(1.2)) % len(DIRS)]}/{rng.choice(WORDS[:60])}.py"
            for _ in range(rng.randint(1, 4))]


def large_plan(rng: random.Random) -> dict[str, Any]:
    tasks = [{"name": f"t{i} {sentence(rng, 2, 5)}", "description": sentence(rng, 10, 40),
              "files_likely_affected": some_files(rng)} for i in range(TASKS)]
    return {"summary": "bench", "tasks": tasks}


def source(rng: random.Random) -> str:
    """An issue-like source with requirements, so the workflow's summary is worth caching."""
    lines = [f"# {sentence(rng, 4, 8)}", sentence(rng, 60, 120)]
    lines += [f"- must {sentence(rng, 5, 15)}" for _ in range(12)]
    lines += [f"{sentence(rng, 10, 20)}. It should {sentence(rng, 5, 12)}." for _ in range(20)]
    return "\n".join(lines)


def work_through(client: caw_lab.Client, task_id: str, rng: random.Random, checkpoints: int, outcome: bool) -> None:
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_update_status", id=task_id, status="in_progress")
    for n in range(checkpoints):
        files = some_files(rng) if n % 2 else None
        client.call("checkpoint_add", task_id=task_id, type="decision" if n % 7 == 3 else "progress",
                    summary=sentence(rng, 6, 15), files_changed=files)
    if outcome:
        client.call("task_update_status", id=task_id, status="completed", outcome=sentence(rng, 10, 30))


def build_large(client: caw_lab.Client) -> str:
    """The 1,000-task, 20,000-checkpoint workflow; returns the id of the task to load (the last)."""
    rng = random.Random(SEED)
    wf = client.call("workflow_create", name="bench context", source_type="github_issue", source_content=source(rng))
    ids = [t["id"] for t in client.call("workflow_set_plan", id=wf["id"], plan=large_plan(rng))["tasks"]]
    for i, task_id in enumerate(ids):
        work_through(client, task_id, rng, PER_TASK, outcome=i < len(ids) - 1)
    return ids[-1]


def build_small(client: caw_lab.Client) -> str:
    rng = random.Random(SEED)
    wf = client.call("workflow_create", name="bench small", source_type="prompt", source_content="bench")
    root = client.call("workflow_set_plan", id=wf["id"], plan=layered_plan())["tasks"][0]["id"]
    work_through(client, root, rng, CHECKPOINTS, outcome=False)
    return root


Figures = dict[str, float]


def sample(load: Callable[[], Any], samples: int, prepare: Callable[[], Any] | None = None) -> Figures:
    """p50/p95 of ``load`` in wall-clock ms, and p50 of this process's CPU time (which other
    processes on a busy machine inflate far less), each call after an untimed ``prepare``."""
    wall, cpu = [], []
    for _ in range(samples):
        if prepare is not None:
            prepare()
        start, start_cpu = time.perf_counter(), time.process_time()
        load()
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return {"p50": statistics.median(wall), "p95": statistics.quantiles(wall, n=20)[18],
            "cpu": statistics.median(cpu)}


def measure(client: caw_lab.Client, task_id: str, samples: int) -> dict[str, Figures]:
    def load() -> Any:
        return client.call("task_load_context", task_id=task_id)

    def write() -> None:
        client.call("checkpoint_add", task_id=task_id, type="progress", summary="bench step")

    load()
    return {
        "repeated": sample(load, samples),
        WARM: sample(load, samples, answers.clear),
        "cold": sample(load, samples, lambda: caches.clear(client.db)),
        "after a checkpoint": sample(load, samples, write),
    }


def row(case: str, cache: str, figures: Figures, target: float | None) -> str:
    versus = f"{target:g} ({'met' if figures['p50'] <= target else 'missed'})" if target else ""
    return f"| {case} | {cache} | {figures['p50']:.2f} | {figures['p95']:.2f} | {figures['cpu']:.2f} | {versus} |"


def main() -> None:
    print(f"machine: {machine()}, {datetime.date.today().isoformat()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="caw-bench-context-") as tmp, \
            caw_lab.connect(Path(tmp) / "context.db") as client:
        start = time.perf_counter()
        large, small = build_large(client), build_small(client)
        print(f"built in {time.perf_counter() - start:.0f} s", flush=True)
        payload = client.call("task_load_context", task_id=large)
        print(f"large payload: {payload['token_estimate']} tokens, omitted {payload.get('omitted')}\n", flush=True)
        results = {LARGE: measure(client, large, SAMPLES), SMALL: measure(client, small, SAMPLES)}
    print("| workflow | cache | p50 ms | p95 ms | CPU p50 ms | target p50 ms |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for case, figures in results.items():
        for cache, pair in figures.items():
            print(row(case, cache, pair, TARGET_MS.get((case, cache))))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
