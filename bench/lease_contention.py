"""Leases under contention: real processes fight over overlapping file leases, some stop
heartbeating, some are killed while holding; then the change feed is checked.

``run(target, seconds)`` starts ``PROCESSES`` spawned processes on one database (a SQLite
file or a ``d1://`` URL), each an agent with a task to write checkpoints on:

- *workers* loop: acquire one of ``RESOURCES`` (``file:src/*.py``, ``file:src/a.py``,
  ``file:**``, ``file:docs/*``; ``docs/*`` shared half the time) with a short ttl, hold it a
  few milliseconds, write a checkpoint fenced by its token, release it;
- *sleepers* work the same, but with their first lease and now and then after, stop (no
  heartbeat, no renewal) past the lease's ttl and then try the fenced write: it must be
  refused with ``LEASE_STALE``;
- *victims* take a lease (one with a short ttl, one with a long one) and are SIGKILLed
  while holding it.

Meanwhile the parent sweeps silent agents (``agent_mark_stale``), so the long lease of a
killed holder ends when its holder goes stale. ``check(target, outcome)`` then reads the
feed and returns every violation of:

- no two conflicting grants overlap, between a ``lease.acquired`` and the
  ``lease.released`` or ``lease.expired`` of the same token, in feed order;
- fencing tokens strictly increase (each process's tokens, and every token is the seq of
  its ``lease.acquired``);
- a lease is taken over only once it expired: its ttl had passed (the takeover's time is at
  or after its ``expires_at``), or its holder had been swept as stale (it stays offline);
- every checkpoint written under a token was written while that lease was held, and every
  write a sleeper attempted after its lease's ttl was refused with ``LEASE_STALE``.

The conflicts between the four resources are written out by hand (``CONFLICTS``) rather than
asked of the engine, so the check does not trust what it checks.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from multiprocessing.synchronize import Barrier, Event
from typing import Any

import caw_lab
from caw_lab.tools import load_all

PROCESSES = 16
SLEEPERS = 3
VICTIMS = (("file:docs/*", 300), ("file:src/a.py", 20_000))
"""What each victim holds when it is killed, and for how long it asked."""
RESOURCES = ["file:src/*.py"] * 4 + ["file:src/a.py"] * 4 + ["file:**"] + ["file:docs/*"] * 4
TTL_MS = {"sqlite": 300, "d1": 1500}
"""Leases last a few calls: a D1 call (HTTP into workerd) takes tens of milliseconds where SQLite takes one."""
HOLD_MS = (2, 20)
HEARTBEAT_S = 0.3
SWEEP_TIMEOUT_MS = 3_000
"""Silence after which the parent's sweep marks an agent offline (its leases end with it)."""
CONFLICTS = {
    frozenset({"file:src/*.py"}),
    frozenset({"file:src/a.py"}),
    frozenset({"file:docs/*"}),
    frozenset({"file:**"}),
    frozenset({"file:src/*.py", "file:src/a.py"}),
    frozenset({"file:**", "file:src/*.py"}),
    frozenset({"file:**", "file:src/a.py"}),
    frozenset({"file:**", "file:docs/*"}),
}
"""Pairs of resources whose globs share a path (a resource with itself included)."""
TIMEOUT_S = 120


def conflict(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether leases ``(resource, mode)`` a and b may not be held together."""
    return frozenset({a[0], b[0]}) in CONFLICTS and not (a[1] == b[1] == "shared")


@dataclass
class Tally:
    """What one process did and saw."""

    role: str
    agent_id: str = ""
    tokens: list[int] = field(default_factory=list)
    refused: int = 0
    fenced_writes: int = 0
    stale_writes: list[tuple[int, str]] = field(default_factory=list)
    """(token, refusal code) of each write a sleeper attempted after its lease's ttl had passed."""
    lost: int = 0
    """Leases that ended before their holder was done (it was swept, or starved past the ttl)."""
    registered_again: int = 0
    """Times it was swept as stale (starved of CPU past the sweep's timeout) and registered anew."""


@dataclass
class Failure:
    """A racer that raised: its role, seed and traceback."""

    role: str
    seed: int
    trace: str


def received(value: Any) -> Any:
    """``value`` as sent by a racer, raising the racer's own failure when it sent one."""
    if isinstance(value, Failure):
        raise RuntimeError(f"{value.role} {value.seed} failed:\n{value.trace}")
    return value


def reported(out: Any, procs: list[Any]) -> Any:
    """The next racer's report; when none comes in time, an error naming each racer's state."""
    try:
        return out.get(timeout=TIMEOUT_S)
    except queue.Empty:
        states = {p.pid: "running" if p.is_alive() else f"exit code {p.exitcode}" for p in procs}
        raise TimeoutError(f"a racer never reported: {states}") from None


def forked() -> BaseContext:
    """Processes forked from a server with caw-lab's client and tools imported already (spawn where
    there is no fork): sixteen racers start at once instead of each importing everything first."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    tools = sorted({spec.fn.__module__ for spec in load_all().values()})
    context.set_forkserver_preload(["caw_lab.client", *tools, __name__])  # type: ignore[attr-defined]
    return context


def reaching() -> dict[str, str]:
    """What a process needs in its environment to open a D1 target: its token and address. Passed
    explicitly, since a process forked from the fork server has the server's environment."""
    return {k: os.environ[k] for k in ("CAW_D1_TOKEN", "CAW_D1_API") if k in os.environ}


def ttl_for(target: str) -> int:
    return TTL_MS["d1" if target.startswith("d1://") else "sqlite"]


def racer(
    target: str, env: dict[str, str], role: str, task_id: str, start: Barrier, stop: Event, out: Any, seed: int
) -> None:
    """One process of the race; a failure is reported through ``out`` (and breaks the start barrier) so
    the parent stops at once with the racer's traceback instead of waiting out its timeouts."""
    try:
        race(target, env, role, task_id, start, stop, out, seed)
    except BaseException:
        start.abort()
        report = Failure(role, seed, traceback.format_exc())
        out.send(report) if role == "victim" else out.put(report)
        raise


def race(
    target: str, env: dict[str, str], role: str, task_id: str, start: Barrier, stop: Event, out: Any, seed: int
) -> None:
    os.environ.update(env)
    rng = random.Random(seed)
    with caw_lab.connect(target) as client:
        tally = Tally(role, client.call("agent_register", name=f"{role}-{seed}", runtime="custom")["id"])
        if role == "victim":  # takes its lease before the race starts, so it is killed holding it early on
            resource, ttl = VICTIMS[seed % len(VICTIMS)]
            got = client.call("lease_acquire", resource=resource, agent_id=tally.agent_id, ttl_ms=ttl)
            start.wait(TIMEOUT_S)
            # Sent once out of the barrier, on a pipe of its own: the parent kills it on reading this,
            # and a process killed holding a shared lock (the barrier's, or a queue's while its
            # feeder thread writes) would leave every other process waiting on that lock for ever.
            out.send(got["fencing_token"])
            time.sleep(TIMEOUT_S)  # until killed
        start.wait(TIMEOUT_S)
        beat = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - beat > HEARTBEAT_S:
                heartbeat(client, tally)
                beat = time.monotonic()
            turn(client, tally, task_id, rng, ttl_for(target))
        out.put(tally)


def heartbeat(client: caw_lab.Client, tally: Tally) -> None:
    try:
        client.call("agent_heartbeat", agent_id=tally.agent_id)
    except caw_lab.CawError as err:
        if err.code != "INVALID_STATE":  # swept as stale meanwhile
            raise
        register_again(client, tally)


def register_again(client: caw_lab.Client, tally: Tally) -> None:
    """An agent swept offline stays offline (its leases ended with it): carry on as a new one."""
    tally.agent_id = client.call("agent_register", name=f"{tally.role}-again", runtime="custom")["id"]
    tally.registered_again += 1


def turn(client: caw_lab.Client, tally: Tally, task_id: str, rng: random.Random, ttl_ms: int) -> None:
    """One acquire; when granted, hold, write under the token and release (or, for a sleeper, go quiet)."""
    resource = rng.choice(RESOURCES)
    mode = "shared" if resource == "file:docs/*" and rng.random() < 0.5 else "exclusive"
    try:
        got = client.call("lease_acquire", resource=resource, agent_id=tally.agent_id, ttl_ms=ttl_ms, mode=mode)
    except caw_lab.CawError as err:
        if err.code != "INVALID_STATE":  # swept as stale meanwhile
            raise
        register_again(client, tally)
        return
    if not got["granted"]:
        tally.refused += 1
        time.sleep(rng.uniform(0.001, 0.01))
        return
    token = got["fencing_token"]
    tally.tokens.append(token)
    quiet = tally.role == "sleeper" and (not tally.stale_writes or rng.random() < 0.3)  # always the first time
    time.sleep((ttl_ms + 150) / 1000 if quiet else rng.uniform(*HOLD_MS) / 1000)
    try:
        client.call("checkpoint_add", task_id=task_id, type="progress", summary=f"under {token}", fencing_token=token)
        tally.fenced_writes += 1
    except caw_lab.CawError as err:
        if quiet:
            tally.stale_writes.append((token, err.code))
            return
        if err.code != "LEASE_STALE":
            raise
        tally.lost += 1
        return
    if quiet:
        tally.stale_writes.append((token, "written"))
        return
    try:
        client.call("lease_release", resource=resource, agent_id=tally.agent_id, fencing_token=token)
    except caw_lab.CawError as err:
        if err.code != "LEASE_STALE":
            raise
        tally.lost += 1


@dataclass
class Outcome:
    seconds: float
    tallies: list[Tally]
    victims: dict[int, int]
    """Victim seed -> the token it held when killed."""

    @property
    def grants(self) -> int:
        return sum(len(t.tokens) for t in self.tallies) + len(self.victims)


def run(target: str, seconds: float, processes: int = PROCESSES) -> Outcome:
    """Race ``processes`` processes on ``target`` for ``seconds``; the environment must reach it (D1's token)."""
    with caw_lab.connect(target) as client:
        wf = client.call("workflow_create", name="lease contention", source_type="prompt", source_content="bench")
        plan = client.call(
            "workflow_set_plan",
            id=wf["id"],
            plan={"summary": "one task per process", "tasks": [{"name": f"p{i}"} for i in range(processes)]},
        )
        tasks = [t["id"] for t in plan["tasks"]]
        roles = ["victim"] * len(VICTIMS) + ["sleeper"] * SLEEPERS
        roles += ["worker"] * (processes - len(roles))
        ctx = forked()
        start, stop, out = ctx.Barrier(processes + 1), ctx.Event(), ctx.Queue()
        pipes = {i: ctx.Pipe(duplex=False) for i, role in enumerate(roles) if role == "victim"}
        procs = [
            ctx.Process(
                target=racer,
                args=(target, reaching(), role, tasks[i], start, stop, pipes[i][1] if i in pipes else out, i),
            )
            for i, role in enumerate(roles)
        ]
        for p in procs:
            p.start()
        try:
            try:
                start.wait(TIMEOUT_S)
            except threading.BrokenBarrierError:
                received(out.get(timeout=TIMEOUT_S))  # the racer that broke it: raises its failure
                raise
            began = time.monotonic()
            victims: dict[int, int] = {}
            for seed, (receiving, _) in pipes.items():
                if not receiving.poll(TIMEOUT_S):
                    raise TimeoutError(f"victim {seed} never got its lease")
                victims[seed] = received(receiving.recv())
                os.kill(procs[seed].pid, signal.SIGKILL)
            while time.monotonic() - began < seconds:
                client.call("agent_mark_stale", timeout_ms=SWEEP_TIMEOUT_MS)
                time.sleep(0.5)
            stop.set()
            elapsed = time.monotonic() - began
            tallies = [received(reported(out, procs)) for _ in range(processes - len(VICTIMS))]
        finally:
            stop.set()
            start.abort()  # a racer still waiting to start (the race failed first) starts no more
            for p in procs:
                p.join(TIMEOUT_S)
                if p.is_alive():
                    p.kill()
    workers = [p for p, role in zip(procs, roles, strict=True) if role != "victim"]
    if any(p.exitcode != 0 for p in workers):
        raise RuntimeError(f"racers failed: exit codes {[p.exitcode for p in workers]}")
    return Outcome(elapsed, tallies, victims)


def feed(client: caw_lab.Client) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = client.call("events_list", since_seq=cursor, limit=10_000)
        events += page["events"]
        if not page["events"]:
            return events
        cursor = page["cursor"]


def check(target: str, outcome: Outcome) -> tuple[list[str], dict[str, int]]:
    """Violations of the invariants (none when all held), and counts showing each was exercised."""
    with caw_lab.connect(target) as client:
        events = feed(client)
    problems: list[str] = []
    held: dict[int, dict[str, Any]] = {}
    swept_at: dict[str, int] = {}
    counts = dict.fromkeys(("grants", "takeovers_after_ttl", "takeovers_of_stale_holders", "fenced_writes"), 0)
    for e in events:
        kind, payload = e["kind"], e["payload"]
        if kind == "agent.stale":
            swept_at[e["agent_id"]] = e["seq"]
        elif kind == "lease.acquired":
            new = (payload["resource"], payload["mode"])
            for token, lease in held.items():
                if conflict(new, (lease["resource"], lease["mode"])):
                    problems.append(f"grant {e['seq']} of {new} overlaps lease {token} of {lease['resource']}")
            held[e["seq"]] = {**payload, "agent_id": e["agent_id"]}
            counts["grants"] += 1
        elif kind in ("lease.released", "lease.expired"):
            token = payload["fencing_token"]
            lease = held.pop(token, None)
            if lease is None:
                problems.append(f"{kind} at {e['seq']} ends lease {token}, which was not held")
            elif kind == "lease.expired":
                problems += takeover_problems(e, lease, swept_at, counts)
        elif kind == "checkpoint.added" and "fencing_token" in payload:
            counts["fenced_writes"] += 1
            if payload["fencing_token"] not in held:
                problems.append(f"checkpoint at {e['seq']} written under lease {payload['fencing_token']}, not held")
    acquired = {e["seq"] for e in events if e["kind"] == "lease.acquired"}
    for tally in outcome.tallies:
        if tally.tokens != sorted(set(tally.tokens)):
            problems.append(f"{tally.agent_id} got tokens out of order: {tally.tokens}")
        if missing := set(tally.tokens) - acquired:
            problems.append(f"{tally.agent_id} got tokens no lease.acquired carries: {sorted(missing)}")
        problems += [
            f"{tally.agent_id} wrote under lease {t} after its ttl ({code})"
            for t, code in tally.stale_writes
            if code != "LEASE_STALE"
        ]
    counts["stale_writes_refused"] = sum(len(t.stale_writes) for t in outcome.tallies)
    counts["refused_grants"] = sum(t.refused for t in outcome.tallies)
    counts["victim_leases_taken_over"] = sum(token not in held for token in outcome.victims.values())
    return problems, counts


def takeover_problems(
    e: dict[str, Any], lease: dict[str, Any], swept_at: dict[str, int], counts: dict[str, int]
) -> list[str]:
    payload = e["payload"]
    if payload["reason"] == "ttl":
        counts["takeovers_after_ttl"] += 1
        if e["at"] < payload["expires_at"]:
            at, token = e["at"], payload["fencing_token"]
            return [f"lease {token} taken over at {at}, before it expired at {payload['expires_at']}"]
        return []
    counts["takeovers_of_stale_holders"] += 1
    if lease["agent_id"] not in swept_at:
        return [f"lease {payload['fencing_token']} taken over from {lease['agent_id']}, who was not swept as stale"]
    return []
