"""Writers of one SQLite file take turns on an ``flock``, and never wait for one longer than a bound.

Why a lock beside SQLite's own: when a writer finishes, the next one should start at
once, where SQLite's busy handler sleeps 1, 2, 5 ... 100 ms between tries. With eight
processes claiming tasks that doubles throughput (bench/RESULTS.md). The lock is a
``-writers`` file beside the database, and dies with its process.

Why bounded: a holder stopped with SIGSTOP (a Ctrl-Z) keeps the lock for as long as it
is stopped, and a blocking ``flock`` would wait for it forever. Linux has no timed
``flock``, so a writer tries without blocking and sleeps between tries, from 50 µs,
doubling to 1 ms: the wait after a release stays far below SQLite's, and a stopped or
stuck holder turns into a refusal at the deadline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from caw_lab.store.location import create_private_file

try:
    import fcntl
except ImportError:  # Windows: writers fall back to SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

FIRST_PAUSE = 0.000_05
LAST_PAUSE = 0.001


class Turns:
    """The ``-writers`` lock of one database, held by at most one process at a time."""

    def __init__(self, path: Path) -> None:
        create_private_file(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    @staticmethod
    def available() -> bool:
        return fcntl is not None

    def take(self, deadline: float) -> bool:
        """Hold the lock, trying until ``deadline`` (``time.monotonic()``); False when it passed."""
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(pause, left))
                pause = min(pause * 2, LAST_PAUSE)

    def give(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
