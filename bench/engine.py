"""How fast the engine is on this machine: ``python -m bench.engine``.

Claims: N real processes, each an agent claiming its own share (every N-th task) of 10,000
ready tasks (ten workflows of 1,000, each allowing 1,000 tasks at once, the most
max_parallel_tasks may be, since claims enforce it) through
``caw_lab.connect(path).call("task_claim", ...)``;
the figure is successful claims per second of wall time, all processes together.
Baseline: the same processes doing a bare SQLite ``UPDATE ... WHERE claimed_by IS NULL``
per claim (autocommit, same pragmas), i.e. what this disk and SQLite allow at all, so
figures from a noisy machine can be read against it.

Contending claims: 8 processes each walking the same 4,000 tasks (four workflows of 1,000)
in the same order, so every task is raced for by all eight and exactly one wins; a loser is
answered ``already_claimed_by`` after a read (and, when it read the task free, a write whose
guard missed). Then the same walk by one process, which wins every task. Baseline: the same
processes on a bare SQLite file doing the same claim plus an event row: ``BEGIN IMMEDIATE``,
the compare-and-set ``UPDATE``, an event ``INSERT`` when it won, ``COMMIT``. Ours and the
baseline are run interleaved, ROUNDS times, in one run, and the ratio of each round is
printed with their spread.

Latency: p50/p95 of workflow_next_tasks, workflow_progress and checkpoint_add on
workflows of 1,000 and 10,000 tasks in two shapes: ``flat`` (every task ready, so
next_tasks returns them all) and ``chains`` (ten chains, so nearly every task is blocked).
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import caw_lab

CLAIM_TASKS = 10_000
CLAIM_WORKFLOWS = 10
PROCESS_COUNTS = (1, 4, 8)
CONTENDED_TASKS = 4_000
CONTENDED_WORKFLOWS = 4
CONTENDERS = 8
ROUNDS = 3
SIZES = (1_000, 10_000)
SHAPES = ("flat", "chains")
CHAINS = 10
SAMPLES = {1_000: 200, 10_000: 40}
WRITE_SAMPLES = 500
COLUMNS = (("workflow_next_tasks", 19), ("workflow_progress", 17), ("checkpoint_add", 14))


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    return (f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}, "
            f"load average {os.getloadavg()[0]:.1f} at start")


def plan_tasks(n: int, shape: str) -> list[dict[str, Any]]:
    if shape == "flat":
        return [{"name": f"t{i}"} for i in range(n)]
    return [{"name": f"t{i}", **({"depends_on": [f"t{i - CHAINS}"]} if i >= CHAINS else {})} for i in range(n)]


def build(client: caw_lab.Client, n: int, shape: str, max_parallel: int = 8) -> tuple[str, list[str]]:
    """A ready workflow of ``n`` tasks; returns its id and the task ids in plan order."""
    wf = client.call("workflow_create", name=f"bench {shape} {n}", source_type="prompt", source_content="bench",
                     max_parallel_tasks=max_parallel)
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "bench", "tasks": plan_tasks(n, shape)})
    return wf["id"], [t["id"] for t in plan["tasks"]]


def claim_share(path: str, task_ids: list[str], agent_id: str, barrier: Barrier, out: Any) -> None:
    with caw_lab.connect(path) as client:
        barrier.wait()
        start = time.monotonic()
        won = sum(client.call("task_claim", task_id=t, agent_id=agent_id)["success"] for t in task_ids)
        out.put((start, time.monotonic(), won))


def update_share(path: str, task_ids: list[str], agent_id: str, barrier: Barrier, out: Any) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = NORMAL")
    barrier.wait()
    start = time.monotonic()
    won = sum(conn.execute("UPDATE claims SET claimed_by = ? WHERE id = ? AND claimed_by IS NULL",
                           (agent_id, t)).rowcount for t in task_ids)
    out.put((start, time.monotonic(), won))
    conn.close()


def claim_event_all(path: str, task_ids: list[str], agent_id: str, barrier: Barrier, out: Any) -> None:
    """The bare-SQLite claim plus event: one write transaction per attempt, as atomic as ours."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = NORMAL")
    barrier.wait()
    start = time.monotonic()
    won = 0
    for t in task_ids:
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("UPDATE claims SET claimed_by = ? WHERE id = ? AND claimed_by IS NULL",
                        (agent_id, t)).rowcount:
            conn.execute("INSERT INTO events (at, kind, task_id, agent_id) VALUES (?, 'task.claimed', ?, ?)",
                         (int(time.time() * 1000), t, agent_id))
            won += 1
        conn.execute("COMMIT")
    out.put((start, time.monotonic(), won))
    conn.close()


def race(worker: Callable[..., None], path: str, task_ids: list[str], agents: list[str],
         contend: bool = False) -> float:
    """Run one process per agent on its share of ``task_ids`` (on all of them when ``contend``);
    successful claims per second."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(agents)), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(path, task_ids if contend else task_ids[i :: len(agents)], agent,
                                              barrier, out))
             for i, agent in enumerate(agents)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    won = sum(r[2] for r in results)
    if won != len(task_ids):
        raise RuntimeError(f"{won} claims succeeded out of {len(task_ids)}")
    return won / (max(r[1] for r in results) - min(r[0] for r in results))


def engine_claims(folder: Path, processes: int) -> float:
    path = str(folder / f"claims{processes}.db")
    with caw_lab.connect(path) as client:
        per = CLAIM_TASKS // CLAIM_WORKFLOWS
        task_ids = [t for _ in range(CLAIM_WORKFLOWS) for t in build(client, per, "flat", max_parallel=per)[1]]
        agents = [client.call("agent_register", name=f"bench{i}", runtime="custom")["id"] for i in range(processes)]
    return race(claim_share, path, task_ids, agents)


def baseline_claims(folder: Path, processes: int) -> float:
    path = str(folder / f"baseline{processes}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE claims (id TEXT PRIMARY KEY, claimed_by TEXT)")
    task_ids = [f"tk_{i:012d}" for i in range(CLAIM_TASKS)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO claims (id) VALUES (?)", [(t,) for t in task_ids])
    conn.execute("COMMIT")
    conn.close()
    return race(update_share, path, task_ids, [f"ag_{i}" for i in range(processes)])


def contended_claims(folder: Path, round_: int, processes: int) -> float:
    path = str(folder / f"contended{round_}-{processes}.db")
    with caw_lab.connect(path) as client:
        per = CONTENDED_TASKS // CONTENDED_WORKFLOWS
        task_ids = [t for _ in range(CONTENDED_WORKFLOWS) for t in build(client, per, "flat", max_parallel=per)[1]]
        agents = [client.call("agent_register", name=f"bench{i}", runtime="custom")["id"] for i in range(processes)]
    return race(claim_share, path, task_ids, agents, contend=True)


def contended_baseline(folder: Path, round_: int, processes: int) -> float:
    path = str(folder / f"contended-baseline{round_}-{processes}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE claims (id TEXT PRIMARY KEY, claimed_by TEXT)")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, "
                 "kind TEXT NOT NULL, task_id TEXT, agent_id TEXT)")
    task_ids = [f"tk_{i:012d}" for i in range(CONTENDED_TASKS)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO claims (id) VALUES (?)", [(t,) for t in task_ids])
    conn.execute("COMMIT")
    conn.close()
    return race(claim_event_all, path, task_ids, [f"ag_{i}" for i in range(processes)], contend=True)


def contention(folder: Path) -> None:
    """Ours and the baseline interleaved, ROUNDS times, with CONTENDERS processes and with one
    (which wins every task, so it is the claim itself, uncontended): each round's ratios, then
    their spread."""
    print(f"\nclaims/s walking the same {CONTENDED_TASKS:,} tasks, {CONTENDERS} processes contending and 1 alone "
          "(bare SQLite: claim + event row in one transaction)")
    print(f"{'round':>5}  {'processes':>9}  {'caw task_claim':>14}  {'bare claim+event':>16}  {'ratio':>5}")
    ratios: dict[int, list[float]] = {CONTENDERS: [], 1: []}
    for r in range(1, ROUNDS + 1):
        for processes in ratios:
            bare = contended_baseline(folder, r, processes)
            ours = contended_claims(folder, r, processes)
            ratios[processes].append(ours / bare)
            print(f"{r:>5}  {processes:>9}  {ours:>14,.0f}  {bare:>16,.0f}  {ours / bare:>5.2f}", flush=True)
    for processes, found in ratios.items():
        label = "contending ratio" if processes > 1 else "single-process ratio"
        print(f"{label}: median {statistics.median(found):.2f} (range {min(found):.2f} - {max(found):.2f})")


def timed(fn: Callable[[], Any], samples: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of ``samples`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18]


def latencies(folder: Path, n: int, shape: str) -> dict[str, tuple[float, float]]:
    with caw_lab.connect(folder / f"latency-{shape}-{n}.db") as client:
        wf, task_ids = build(client, n, shape)
        agent = client.call("agent_register", name="bench", runtime="custom")["id"]
        first = task_ids[0]
        client.call("task_claim", task_id=first, agent_id=agent)
        client.call("task_update_status", id=first, status="planning")
        client.call("task_update_status", id=first, status="in_progress")
        samples = SAMPLES[n]
        return {
            "workflow_next_tasks": timed(lambda: client.call("workflow_next_tasks", workflow_id=wf), samples),
            "workflow_progress": timed(lambda: client.call("workflow_progress", workflow_id=wf), samples),
            "checkpoint_add": timed(
                lambda: client.call("checkpoint_add", task_id=first, type="progress", summary="bench step"),
                WRITE_SAMPLES,
            ),
        }


def main() -> None:
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="caw-bench-") as tmp:
        folder = Path(tmp)
        contention(folder)
        if "--contention" in sys.argv:
            return
        print(f"\nclaims/s on {CLAIM_TASKS:,} ready tasks in {CLAIM_WORKFLOWS} workflows "
              "(each process claims its own share)")
        print(f"{'processes':>9}  {'caw task_claim':>14}  {'bare UPDATE':>11}  {'ratio':>5}")
        for n in PROCESS_COUNTS:
            ours, bare = engine_claims(folder, n), baseline_claims(folder, n)
            print(f"{n:>9}  {ours:>14,.0f}  {bare:>11,.0f}  {ours / bare:>5.2f}", flush=True)
        print("\nlatency ms (p50 / p95)")
        print(f"{'tasks':>6}  {'shape':<6}  " + "  ".join(f"{name:>{w}}" for name, w in COLUMNS))
        for n in SIZES:
            for shape in SHAPES:
                got = latencies(folder, n, shape)
                cells = "  ".join(f"{f'{got[name][0]:.2f} / {got[name][1]:.2f}':>{w}}" for name, w in COLUMNS)
                print(f"{n:>6}  {shape:<6}  {cells}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
