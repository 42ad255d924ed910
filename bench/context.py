"""How fast ``task_load_context`` is with the learned ranker: ``python -m bench.context``.

- **Large**: a workflow of 1,000 tasks and 20,000 checkpoints (20 per task, half of them
  naming files), every task but the last completed with an outcome; the context loaded is
  the last task's, so the learned ranker orders all 999 earlier tasks and the task's 15
  older checkpoints. Texts are drawn from a fixed vocabulary with a seeded generator.
- **Small**: the task with 50 checkpoints of ``bench.mcp`` (the root of its 201-task
  layered workflow), which the reference answers in about 0.9 ms over MCP without ranking.

Each is timed **repeated** (the same call again at the same change-feed head, which gets
the answer already given: ``caw_lab.context.loader.ANSWERS``), **warm** (the same, with
that kept answer forgotten before every call: the engine's own work on an unchanged
workflow), **cold** (every cache forgotten, ``caw_lab.context.caches.forget_all``, before
every call: what a fresh server pays on its first load) and **after a checkpoint** (a
``checkpoint_add`` on the task before every call: the usual reload, which sees a new
change-feed head and so rereads the task it touched, while the ranking of the unchanged
earlier tasks stays cached). Calls go through ``caw_lab.connect(path).call`` in this
process, so the figures are the engine's, without a transport; the default adaptive budget
and the default ``ranker="learned"``.

``--caches`` times the same four cases with each cache switched off in turn (``SWITCHES``),
in rounds that alternate them, so every cache's worth is measured in one run on one
machine state. ``build_path`` makes the small workflow ``bench.call_path`` traces.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import caw_lab
from bench.engine import machine
from bench.mcp import CHECKPOINTS
from bench.mcp import plan as layered_plan
from caw_lab.context import caches, current_task, loader, surroundings, tokens
from caw_lab.context.caches import Kept
from caw_lab.ranking import features, rankers

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
    return [
        f"src/{DIRS[int(rng.paretovariate(1.2)) % len(DIRS)]}/{rng.choice(WORDS[:60])}.py"
        for _ in range(rng.randint(1, 4))
    ]


def large_plan(rng: random.Random) -> dict[str, Any]:
    tasks = [
        {
            "name": f"t{i} {sentence(rng, 2, 5)}",
            "description": sentence(rng, 10, 40),
            "files_likely_affected": some_files(rng),
        }
        for i in range(TASKS)
    ]
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
        client.call(
            "checkpoint_add",
            task_id=task_id,
            type="decision" if n % 7 == 3 else "progress",
            summary=sentence(rng, 6, 15),
            files_changed=files,
        )
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


def build_path(client: caw_lab.Client) -> str:
    """A small workflow whose last task has every part a load holds: a dependency, a sibling, an
    earlier task and a memory to rank, a trail with older checkpoints; returns that task's id."""
    rng = random.Random(SEED)
    wf = client.call("workflow_create", name="bench path", source_type="github_issue", source_content=source(rng))
    tasks = [
        {"name": "a"},
        {"name": "d"},
        {"name": "b", "parallel_group": "g"},
        {"name": "c", "parallel_group": "g", "depends_on": ["a"]},
    ]
    planned = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": tasks})
    ids = [t["id"] for t in planned["tasks"]]
    for task_id in ids[:3]:
        work_through(client, task_id, rng, 3, outcome=True)
    work_through(client, ids[3], rng, 12, outcome=False)
    client.call("memory_create", topic="bench", content=sentence(rng, 8, 20))
    return ids[3]


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
    return {"p50": statistics.median(wall), "p95": statistics.quantiles(wall, n=20)[18], "cpu": statistics.median(cpu)}


def measure(client: caw_lab.Client, task_id: str, samples: int) -> dict[str, Figures]:
    def load() -> Any:
        return client.call("task_load_context", task_id=task_id)

    def write() -> None:
        client.call("checkpoint_add", task_id=task_id, type="progress", summary="bench step")

    load()
    return {
        "repeated": sample(load, samples),
        WARM: sample(load, samples, loader.ANSWERS.clear),
        "cold": sample(load, samples, caches.forget_all),
        "after a checkpoint": sample(load, samples, write),
    }


@contextlib.contextmanager
def unkept(kept: Callable[[], Kept[Any]]) -> Iterator[None]:
    """A ``Kept`` that keeps nothing (size 0) for the duration."""
    target = kept()
    size, target.size = target.size, 0
    target.clear()
    try:
        yield
    finally:
        target.size = size


@contextlib.contextmanager
def unmemoized(module: Any, name: str) -> Iterator[None]:
    """An ``lru_cache``'d function of ``module`` replaced by the same function caching nothing."""
    real = getattr(module, name)
    setattr(module, name, functools.lru_cache(maxsize=0)(real.__wrapped__))
    try:
        yield
    finally:
        setattr(module, name, real)


@contextlib.contextmanager
def workflow_fresh(part: str) -> Iterator[None]:
    """Loads given a new, empty ``part`` (``memo``: the ranker's scores, ``per_task``: the items
    built from task rows) instead of the kept workflow's, which stays kept otherwise."""
    real = loader.gather

    def gather(*args: Any) -> surroundings.Surroundings:
        found = real(*args)
        setattr(found, part, {})
        return found

    loader.gather = gather
    try:
        yield
    finally:
        loader.gather = real


SWITCHES: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "none (every cache on)": contextlib.nullcontext,
    "answers (loader.ANSWERS)": lambda: unkept(lambda: loader.ANSWERS),
    "kept workflows (surroundings.WORKFLOWS)": lambda: unkept(lambda: surroundings.WORKFLOWS),
    "scores kept with the workflow": lambda: workflow_fresh("memo"),
    "items kept with the workflow": lambda: workflow_fresh("per_task"),
    "source summaries (loader.SUMMARIES)": lambda: unkept(lambda: loader.SUMMARIES),
    "checkpoint entries (current_task.CHECKPOINTS)": lambda: unkept(lambda: current_task.CHECKPOINTS),
    "token counts (tokens.TokenCounter.counts)": lambda: unkept(lambda: tokens.counter().counts),
    "corpora (ranking.features.build)": lambda: unmemoized(features, "build"),
    "the model (ranking.rankers.load)": lambda: unmemoized(rankers, "load"),
}
"""Each cache the context engine and the ranking library keep, and how to switch it off."""


def without_each(client: caw_lab.Client, tasks: dict[str, str], rounds: int, samples: int) -> str:
    """CPU p50 of each case with each cache switched off, medians over alternating rounds."""
    cpu: dict[tuple[str, str, str], list[float]] = {}
    for n in range(rounds):
        for name, switch in SWITCHES.items():
            with switch():
                for case, task_id in tasks.items():
                    for cache, figures in measure(client, task_id, samples).items():
                        cpu.setdefault((name, case, cache), []).append(figures["cpu"])
            print(f"round {n + 1}/{rounds}, switched off: {name}", file=sys.stderr, flush=True)
    cases = ["repeated", WARM, "cold", "after a checkpoint"]
    lines = ["| switched off | workflow | " + " | ".join(cases) + " |", "| --- | --- |" + " ---: |" * len(cases)]
    for name in SWITCHES:
        for case in tasks:
            lines.append(
                f"| {name} | {case} | "
                + " | ".join(f"{statistics.median(cpu[(name, case, c)]):.2f}" for c in cases)
                + " |"
            )
    return "\n".join(lines)


def row(case: str, cache: str, figures: Figures, target: float | None) -> str:
    versus = f"{target:g} ({'met' if figures['p50'] <= target else 'missed'})" if target else ""
    return f"| {case} | {cache} | {figures['p50']:.2f} | {figures['p95']:.2f} | {figures['cpu']:.2f} | {versus} |"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.context", description=__doc__.split("\n")[0])
    parser.add_argument("--caches", action="store_true", help="time each case with each cache switched off")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds for --caches")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="calls per case (per round with --caches)")
    args = parser.parse_args()
    print(f"machine: {machine()}, {datetime.date.today().isoformat()}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="caw-bench-context-") as tmp,
        caw_lab.connect(Path(tmp) / "context.db") as client,
    ):
        start = time.perf_counter()
        large, small = build_large(client), build_small(client)
        print(f"built in {time.perf_counter() - start:.0f} s", flush=True)
        payload = client.call("task_load_context", task_id=large)
        print(f"large payload: {payload['token_estimate']} tokens, omitted {payload.get('omitted')}\n", flush=True)
        if args.caches:
            print(without_each(client, {LARGE: large, SMALL: small}, args.rounds, args.samples))
            print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
            return
        results = {LARGE: measure(client, large, args.samples), SMALL: measure(client, small, args.samples)}
    print("| workflow | cache | p50 ms | p95 ms | CPU p50 ms | target p50 ms |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for case, figures in results.items():
        for cache, pair in figures.items():
            print(row(case, cache, pair, TARGET_MS.get((case, cache))))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
