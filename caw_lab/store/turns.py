"""Writers of one SQLite file take turns on an ``flock``, and never wait for one longer than a bound.

Why a lock beside SQLite's own: when a writer finishes, the next one should start at
once, where SQLite's busy handler sleeps 1, 2, 5 ... 100 ms between tries, which
bench.engine measures as a large share of contended claim throughput. The lock is a
``-writers`` file beside the database, and dies with its process.

Why bounded: a holder stopped with SIGSTOP (a Ctrl-Z) keeps the lock for as long as it
is stopped, and a blocking ``flock`` would wait for it forever. Linux has no timed
``flock``, and polling (try, sleep, try again) would wake every waiting writer hundreds
of times a second, for as long as a holder stays stopped. So the blocking call
is made by a helper thread, one per database connection, kept for the connection's life:
the kernel wakes it the moment the lock is free, and it hands the lock to the writer
waiting on a condition with a deadline. A writer whose deadline passes stops waiting
(DATABASE_BUSY); the helper stays blocked in the kernel, and gives the lock straight back
if it gets it after nobody wants it any more.

The lock belongs to the open file, not to a thread: whichever thread of this connection
took it, the writer holds it, and gives it back with ``LOCK_UN``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from caw_lab.store.location import create_private_file

try:
    import fcntl
except ImportError:  # Windows: writers fall back to SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]


class Turns:
    """The ``-writers`` lock of one database, held by at most one process at a time.

    Callers take turns among their own threads first (one ``take`` at a time per object).
    """

    def __init__(self, path: Path) -> None:
        create_private_file(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self._state = threading.Condition()
        self._asked = False  # a writer waits for the helper to get the lock
        self._granted = False  # the helper got it for that writer
        self._blocked = False  # the helper is inside a blocking flock
        self._closed = False
        self._helper: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        return fcntl is not None

    def take(self, deadline: float) -> bool:
        """Hold the lock, waiting until ``deadline`` (``time.monotonic()``); False when it passed."""
        with self._state:
            if not self._blocked:  # else the helper's pending flock would be granted along with ours
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            if time.monotonic() >= deadline:
                return False
            self._asked = True
            self._start_helper()
            self._state.notify_all()
            while not self._granted:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._asked = False
                    return False
                self._state.wait(left)
            self._granted = False
            return True

    def give(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify_all()
            os.close(self._fd)  # the helper blocks on a copy of it, which it closes when it ends

    def _start_helper(self) -> None:
        if self._helper is None:
            # A copy of the descriptor shares the open file, and so the lock; closing the original
            # while the helper is blocked cannot hand the helper a number reused by another file.
            fd = os.dup(self._fd)
            self._helper = threading.Thread(target=self._help, args=(fd,), name="caw-writers", daemon=True)
            self._helper.start()

    def _help(self, fd: int) -> None:
        """Block in the kernel for the lock whenever a writer asks, and hand it over."""
        try:
            while self._wait_for_a_writer():
                fcntl.flock(fd, fcntl.LOCK_EX)
                with self._state:
                    self._blocked = False
                    if self._asked and not self._closed:
                        self._asked, self._granted = False, True
                        self._state.notify_all()
                    elif not self._closed:
                        fcntl.flock(fd, fcntl.LOCK_UN)  # the writer gave up: give the lock straight back
        finally:
            os.close(fd)  # when closed, the last reference: any lock got meanwhile goes with it

    def _wait_for_a_writer(self) -> bool:
        with self._state:
            while not self._asked and not self._closed:
                self._state.wait()
            self._blocked = not self._closed
            return self._blocked
