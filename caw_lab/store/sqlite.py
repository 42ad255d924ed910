"""The embedded default: a local SQLite file shared safely by many processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend, Row, Statement

if TYPE_CHECKING:
    import sqlite_utils

try:
    import fcntl
except ImportError:  # Windows: writers fall back to SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

BUSY_TIMEOUT_MS = 30_000


class SQLiteBackend(Backend):
    """WAL so readers never wait for a writer; ``BEGIN IMMEDIATE`` batches so racing
    writers queue on the busy timeout instead of failing half-way.

    Writers in caw-lab processes also take turns on an ``flock`` of a ``-writers`` file
    beside the database: the kernel wakes the next writer the moment one finishes,
    where SQLite's busy handler would sleep 1, 2, 5 ... 100 ms between tries, which
    bench.engine measures as a large share of contended claim throughput. The lock dies with its
    process, and the busy timeout still covers writers outside caw-lab.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self._conn = conn
        self._lock = threading.RLock()
        writers = f"{self.path}-writers" if self.path != ":memory:" and fcntl else None
        self._turns = open(writers, "ab") if writers else None  # noqa: SIM115 - the lock file stays open until close()
        with self._writer_turn():
            self._pragmas(conn)

    @staticmethod
    def _pragmas(conn: sqlite3.Connection) -> None:
        """Run in a writer's turn: switching a fresh file to WAL needs an exclusive lock and
        fails at once, busy timeout or not, if another process is switching it too."""
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")

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
        with self._lock:
            try:
                return _rows(self.conn.execute(sql, tuple(params)))
            except (sqlite3.Error, OverflowError) as exc:
                raise _as_caw_error(exc) from exc

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._turns is None:
            yield
            return
        fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turns, fcntl.LOCK_UN)

    def batch(self, statements: Sequence[Statement]) -> list[list[Row]]:
        with self._lock, self._writer_turn():
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                results = [_rows(conn.execute(s.sql, s.params)) for s in statements]
                conn.execute("COMMIT")
                return results
            except (sqlite3.Error, OverflowError) as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise _as_caw_error(exc) from exc

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            if self._turns is not None:
                self._turns.close()


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    """Rows as dicts, zipped from plain tuples: a third faster than ``dict(sqlite3.Row)``,
    which matters when a 10,000-task workflow answers one query with every task."""
    rows = cursor.fetchall()
    if not rows:
        return []
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _as_caw_error(exc: sqlite3.Error | OverflowError) -> CawError:
    text = str(exc)
    if isinstance(exc, OverflowError):
        return CawError("INVALID_INPUT", text, recoverable=True, suggestion="Use a number that fits in 64 bits.")
    if "locked" in text or "busy" in text:
        return CawError("DATABASE_BUSY", text, recoverable=True, suggestion="Retry in a moment.")
    if isinstance(exc, sqlite3.IntegrityError):
        return CawError("CONSTRAINT_VIOLATION", text, recoverable=False, suggestion="Check ids and unique names.")
    return CawError("DATABASE_ERROR", text, recoverable=False,
                    suggestion="See the message; the change was not applied.")
