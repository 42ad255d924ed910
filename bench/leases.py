"""How fast leases are granted: ``python -m bench.leases [SECONDS]``.

Latency: p50/p95 of ``lease_acquire`` on a SQLite file and on a real local D1 (workerd via
Miniflare, as ``caw d1 local`` serves it): each sample leases a new file glob
(``file:src/m<i>/*.py``) in a scope already holding the earlier samples' live leases (up to
``LATENCY_SAMPLES``), so each grant decides overlap against all of them; ``lease_release``
beside it. D1's column also counts HTTP requests per call. Baseline, same run: a bare SQLite
``BEGIN IMMEDIATE; UPDATE`` of a one-row counter ``+ INSERT`` of a row ``; COMMIT`` on a
one-table file (what one atomic grant-sized write costs this disk at all).

Contention: ``bench.lease_contention`` for SECONDS (30 by default) on each backend, 16
processes: grants per second of wall time, all processes together, and the feed check of
every lease invariant (violations must be 0).
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import caw_lab
from bench import lease_contention
from bench.backends import CountingD1
from bench.engine import machine, timed
from caw_lab.d1local import LocalD1
from caw_lab.store import migrate

LATENCY_SAMPLES = 300
CONTENTION_S = 30.0


def lease_latency(client: caw_lab.Client) -> dict[str, tuple[float, float]]:
    agent = client.call("agent_register", name="bench", runtime="custom")["id"]
    counter = iter(range(10**6))
    held: list[tuple[str, int]] = []

    def acquire() -> None:
        resource = f"file:src/m{next(counter)}/*.py"
        got = client.call("lease_acquire", resource=resource, agent_id=agent, ttl_ms=600_000)
        held.append((resource, got["fencing_token"]))

    def release() -> None:
        resource, token = held.pop()
        client.call("lease_release", resource=resource, agent_id=agent, fencing_token=token)

    return {"lease_acquire": timed(acquire, LATENCY_SAMPLES), "lease_release": timed(release, LATENCY_SAMPLES - 10)}


def requests_per_call(backend: CountingD1) -> dict[str, float]:
    client = caw_lab.Client(backend)
    agent = client.call("agent_register", name="count", runtime="custom")["id"]
    before = backend.requests
    tokens = [client.call("lease_acquire", resource=f"named:c{i}", agent_id=agent, ttl_ms=60_000)["fencing_token"]
              for i in range(10)]
    acquired = (backend.requests - before) / 10
    before = backend.requests
    for i, token in enumerate(tokens):
        client.call("lease_release", resource=f"named:c{i}", agent_id=agent, fencing_token=token)
    return {"lease_acquire": acquired, "lease_release": (backend.requests - before) / 10}


def baseline(folder: Path) -> tuple[float, float]:
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    conn.execute("CREATE TABLE grants (token INTEGER PRIMARY KEY, resource TEXT NOT NULL)")
    conn.execute("INSERT INTO counter VALUES (1, 0)")
    counter = iter(range(10**6))

    def grant() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        conn.execute("INSERT INTO grants VALUES ((SELECT n FROM counter WHERE id = 1), ?)", (f"r{next(counter)}",))
        conn.execute("COMMIT")

    try:
        return timed(grant, LATENCY_SAMPLES)
    finally:
        conn.close()


def contend(target: str, seconds: float) -> dict[str, Any]:
    outcome = lease_contention.run(target, seconds)
    problems, counts = lease_contention.check(target, outcome)
    return {"grants_per_s": outcome.grants / outcome.seconds, "violations": len(problems), **counts}


def main(seconds: float = CONTENTION_S) -> None:
    print(f"machine: {machine()}\nuname -a: {' '.join(platform.uname())}")
    with tempfile.TemporaryDirectory(prefix="caw-bench-") as tmp, LocalD1(Path(tmp) / "d1", ["lat", "race"]) as d1:
        folder = Path(tmp)
        bare = baseline(folder)
        with caw_lab.connect(folder / "lat.db") as client:
            sqlite = lease_latency(client)
        os.environ.update(d1.env())
        backend = CountingD1("local", "lat", d1.token, d1.api)
        migrate(backend)
        remote = lease_latency(caw_lab.Client(backend))
        counted = requests_per_call(backend)
        print(f"\nlatency ms (p50 / p95), {LATENCY_SAMPLES} samples; local D1 over HTTP")
        print(f"{'call':<16}  {'SQLite':>15}  {'local D1':>15}  {'D1 requests':>11}")
        for name in sqlite:
            (s50, s95), (d50, d95) = sqlite[name], remote[name]
            print(f"{name:<16}  {f'{s50:.2f} / {s95:.2f}':>15}  {f'{d50:.2f} / {d95:.2f}':>15}  {counted[name]:>11.1f}")
        print(f"{'bare UPDATE+INSERT':<16}  {f'{bare[0]:.3f} / {bare[1]:.3f}':>15}")
        print(f"\ncontention: {lease_contention.PROCESSES} processes for {seconds:.0f} s", flush=True)
        for name, where in (("SQLite", str(folder / "race.db")), ("local D1", d1.url("race"))):
            print(f"{name:<9} {contend(where, seconds)}", flush=True)


if __name__ == "__main__":
    sys.exit(main(*(float(a) for a in sys.argv[1:2])))
