"""The embedded default: a local SQLite file shared safely by many processes."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend, Row, Statement, reads
from caw_lab.store.location import create_private

if TYPE_CHECKING:
    import sqlite_utils

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for the write lock before DATABASE_BUSY; ``CAW_BUSY_TIMEOUT_MS`` overrides it."""

WAL_LIMIT_BYTES = 8 * 1024 * 1024
"""The write-ahead log's size once no reader holds an old snapshot: SQLite truncates it to this
(``journal_size_limit``) and a write that leaves it bigger tries a TRUNCATE checkpoint."""

WAL_CHECK_INTERVAL_S = 0.1
"""How often a writer looks at the log's size: a burst of writes gets one look per interval."""


BUSY_SLEEPS_S = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)
"""Pauses between tries for a lock another connection holds, the last repeated: SQLite's own
busy handler's. Sleeping losers let the writer that has the lock run on, which is what eight
processes racing for the same tasks need (bench.engine); waking every waiter the moment a
write ends made them walk in lockstep and hand the lock over for every task."""


class SQLiteBackend(Backend):
    """WAL so readers never wait for a writer; ``BEGIN IMMEDIATE`` batches so racing
    writers queue instead of failing half-way.

    A writer that finds SQLite's write lock taken lets go of this connection, sleeps as
    SQLite's busy handler would (``BUSY_SLEEPS_S``) and tries again, for at most the busy
    timeout; then the call is refused with DATABASE_BUSY and nothing is written. Letting go
    of the connection is why SQLite's own handler (which waits inside the statement) is
    switched off: this process's readers (other threads of a server) go on while a writer
    waits, even for a writer stopped with SIGSTOP. A holder that dies releases the lock at
    once (SQLite rolls its transaction back).

    Opening reads, unless the file still has to be switched to WAL. The write-ahead log
    grows while a reader holds an old snapshot (SQLite cannot copy past it); once that
    reader is gone, the next write brings the log back under ``WAL_LIMIT_BYTES``.
    """

    def __init__(self, path: str | Path, busy_timeout_ms: int | None = None) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self.busy_timeout_ms = configured_busy_timeout() if busy_timeout_ms is None else busy_timeout_ms
        self._lock = threading.RLock()  # the connection, one statement (or batch) at a time
        on_disk = self.path != ":memory:"
        self._wal = f"{self.path}-wal" if on_disk else None
        self._wal_checked = 0.0
        try:
            if on_disk:
                create_private(Path(self.path))
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
            self._prepare(on_disk)
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise _as_caw_error(exc, self.path) from exc

    def _prepare(self, on_disk: bool) -> None:
        """Per-connection settings, then WAL if the file is not in WAL yet (the one write
        opening may make: it needs an exclusive lock, so it may have to wait for it)."""
        conn = self._conn

        def settle() -> str:
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])  # reads the header: damage stops here

        mode = self._patiently(settle)  # the file is locked while another process switches it to WAL
        if on_disk and mode != "wal":
            self._patiently(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchall())

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils' table API on the same connection, for exploring the database by hand.

        Built on first use: importing sqlite-utils (and the numpy it loads) would add a
        fifth of a second to every ``caw --server`` start, and the engine never needs it.
        """
        import sqlite_utils

        return sqlite_utils.Database(self._conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One autocommit statement: its read snapshot ends when its rows are fetched."""
        params = tuple(params)
        try:
            return self._patiently(lambda: _rows(self.conn.execute(sql, params)))
        except (sqlite3.Error, OverflowError) as exc:
            raise _as_caw_error(exc, self.path) from exc

    def batch(self, statements: Sequence[Statement], *, retry: bool = False) -> list[list[Row]]:
        """``retry`` is for backends that can lose a reply; a local file never does.

        A batch of reads (one consistent snapshot of several queries) is a plain ``BEGIN``
        and waits for no writer; should one of its statements write after all, SQLite
        takes the write lock then, and the batch stays atomic."""
        writes = not all(reads(s.sql) for s in statements)
        try:
            results = self._patiently(lambda: self._run("BEGIN IMMEDIATE" if writes else "BEGIN", statements))
        except (sqlite3.Error, OverflowError) as exc:
            raise _as_caw_error(exc, self.path) from exc
        if writes:
            self._bound_wal()
        return results

    def _run(self, begin: str, statements: Sequence[Statement]) -> list[list[Row]]:
        """One transaction; on any failure it is rolled back, so trying again starts clean."""
        conn = self.conn
        try:
            conn.execute(begin)
            results = [_rows(conn.execute(s.sql, s.params)) for s in statements]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _patiently(self, attempt: Callable[[], T]) -> T:
        """``attempt`` holding the connection; while another connection holds a lock it needs,
        let go of the connection, sleep, and try again, until the busy timeout has passed (a
        busy attempt fails at once, so the wait starts when the first one does)."""
        deadline = None
        pauses = iter(BUSY_SLEEPS_S)
        while True:
            with self._lock:
                try:
                    return attempt()
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
            now = time.monotonic()
            deadline = deadline or now + self.busy_timeout_ms / 1000
            if now >= deadline:
                raise _busy(self)
            time.sleep(min(next(pauses, BUSY_SLEEPS_S[-1]), deadline - now))

    def _bound_wal(self) -> None:
        """After a write, a log beyond its limit gets a TRUNCATE checkpoint that waits for no
        one: with no reader on an old snapshot it empties the log; with one, it copies what it
        can and leaves the rest to a later write. The size is looked at once per interval, not
        per write (a ``stat`` is a twentieth of a small write). A failure here never fails the
        write."""
        now = time.monotonic()
        if self._wal is None or now - self._wal_checked < WAL_CHECK_INTERVAL_S:
            return
        self._wal_checked = now
        try:
            if os.stat(self._wal).st_size <= WAL_LIMIT_BYTES:
                return
            with self._lock:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except (OSError, sqlite3.Error) as exc:
            logger.debug("WAL checkpoint of %s skipped: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if conn := getattr(self, "_conn", None):
                conn.close()


def configured_busy_timeout() -> int:
    """``CAW_BUSY_TIMEOUT_MS`` (whole milliseconds, 0 to refuse at once), else ``BUSY_TIMEOUT_MS``."""
    raw = os.environ.get("CAW_BUSY_TIMEOUT_MS", "").strip()
    if not raw:
        return BUSY_TIMEOUT_MS
    if not raw.isdigit() or int(raw) > 24 * 3600 * 1000:
        raise CawError("INVALID_INPUT", f"CAW_BUSY_TIMEOUT_MS must be milliseconds from 0 to a day, not {raw!r}",
                       recoverable=True, suggestion="Unset CAW_BUSY_TIMEOUT_MS, or set it to e.g. 30000.")
    return int(raw)


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    """Rows as dicts, zipped from plain tuples: a third faster than ``dict(sqlite3.Row)``,
    which matters when a 10,000-task workflow answers one query with every task."""
    rows = cursor.fetchall()
    if not rows:
        return []
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in rows]


BUSY_SUGGESTION = ("Retry in a moment. If it persists, a caw process may be stopped (Ctrl-Z) or stuck: "
                   "resume or end it.")

def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")


def _busy(backend: SQLiteBackend) -> CawError:
    return CawError("DATABASE_BUSY", f"Another writer held {backend.path} for {backend.busy_timeout_ms} ms",
                    recoverable=True, suggestion=BUSY_SUGGESTION)


SQLITE_CODES = {
    "SQLITE_BUSY": "DATABASE_BUSY",
    "SQLITE_LOCKED": "DATABASE_BUSY",
    "SQLITE_CORRUPT": "DATABASE_CORRUPT",
    "SQLITE_NOTADB": "DATABASE_CORRUPT",
    "SQLITE_FULL": "DISK_FULL",
    "SQLITE_CANTOPEN": "DATABASE_UNAVAILABLE",
    "SQLITE_IOERR": "DATABASE_UNAVAILABLE",
    "SQLITE_READONLY": "DATABASE_UNAVAILABLE",
    "SQLITE_PERM": "DATABASE_UNAVAILABLE",
}
"""SQLite's primary result codes (extended ones like SQLITE_IOERR_WRITE share their prefix) → ours."""


def _as_caw_error(exc: sqlite3.Error | OverflowError | OSError, path: str) -> CawError:
    """One line a person can act on, for whatever went wrong with the file or a statement."""
    text = str(exc)
    if isinstance(exc, OverflowError):
        return CawError("INVALID_INPUT", text, recoverable=True, suggestion="Use a number that fits in 64 bits.")
    if isinstance(exc, OSError):
        code = "DISK_FULL" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "DATABASE_UNAVAILABLE"
        return _file_error(code, exc.strerror or text, path)
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = next((ours for prefix, ours in SQLITE_CODES.items() if name.startswith(prefix)), None)
    if code == "DATABASE_BUSY":
        return CawError(code, f"{text} ({path})", recoverable=True, suggestion=BUSY_SUGGESTION)
    if code == "DATABASE_UNAVAILABLE" and _no_space_left(path):
        return _file_error("DISK_FULL", f"{text}: no space left on its disk", path)
    if code:
        return _file_error(code, text, path)
    if isinstance(exc, sqlite3.IntegrityError):
        return CawError("CONSTRAINT_VIOLATION", text, recoverable=False, suggestion="Check ids and unique names.")
    return CawError("DATABASE_ERROR", text, recoverable=False,
                    suggestion="See the message; the change was not applied.")


CORRUPT = ("The file is damaged or is not a caw-lab database: move it aside and restore a backup, or point "
           "--db / CAW_DB_PATH at another file.")
FULL = "Free space on the disk holding the database (nothing was written), then retry."
UNAVAILABLE = ("Check that the path is a file you may read and write, in a folder you may write, on a working "
               "disk; or choose another with --db / CAW_DB_PATH.")
FILE_ERRORS = {
    "DATABASE_CORRUPT": (False, CORRUPT),
    "DISK_FULL": (True, FULL),
    "DATABASE_UNAVAILABLE": (True, UNAVAILABLE),
}
"""Our file-level codes: whether retrying can help, and what to do."""


def _no_space_left(path: str) -> bool:
    """SQLite reports some writes that found no space (growing the ``-shm`` file, say) as mere
    I/O errors, and keeps the errno to itself: the disk's free space tells."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except OSError:
        return False


def _file_error(code: str, problem: str, path: str) -> CawError:
    recoverable, suggestion = FILE_ERRORS[code]
    return CawError(code, f"Database {path}: {problem}", recoverable=recoverable, suggestion=suggestion)
