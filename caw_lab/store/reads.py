"""Reads that do not depend on each other, declared first and sent together.

Against D1 every request is a network round trip, so a tool that needs five independent
queries should pay for one. An engine read declares its queries on a ``Reads``, each
declaration handing back a ``Later`` (a function to call once they have run), calls
``run()``, then calls the ``Later``\\s::

    reads = Reads(db)
    workflow = reads.one("SELECT status FROM workflows WHERE id = ?", (workflow_id,))
    counts = reads.query("SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status",
                         (workflow_id,))
    reads.run()
    if workflow() is None: ...

``run`` hands the statements to ``Backend.read_all``: one batch, so one request on D1 and
one read transaction (one snapshot, waiting for no writer) on SQLite. A helper that reads
and shapes declares its queries on the caller's ``Reads`` and returns a ``Later`` of the
shaped value (``lambda: shape(rows())``), so it joins whatever batch it is part of.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from caw_lab.store.backend import Backend, Row, Statement

T = TypeVar("T")
Later = Callable[[], T]
"""A value known once its ``Reads`` has run."""


class Reads:
    """Queries gathered for one ``run``; each declaration's value is read after it."""

    def __init__(self, db: Backend) -> None:
        self.db = db
        self._statements: list[Statement] = []
        self._results: list[list[Row]] | None = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> Later[list[Row]]:
        index = len(self._statements)
        self._statements.append(Statement(sql, tuple(params)))
        return lambda: self._rows(index)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Later[Row | None]:
        rows = self.query(sql, params)
        return lambda: next(iter(rows()), None)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Later[Any]:
        row = self.one(sql, params)
        return lambda: _first(row())

    def run(self) -> None:
        """Send every declared query at once; running twice is a mistake in the caller."""
        if self._results is not None:
            raise RuntimeError("these reads have already run")
        self._results = self.db.read_all(self._statements) if self._statements else []

    def _rows(self, index: int) -> list[Row]:
        if self._results is None:
            raise RuntimeError("read before Reads.run()")
        return self._results[index]


def alone(db: Backend, declare: Callable[..., Later[T]], *args: Any) -> T:
    """What ``declare(reads, *args)`` reads, read on its own: for callers with nothing to batch it with."""
    reads = Reads(db)
    later = declare(reads, *args)
    reads.run()
    return later()


def _first(row: Row | None) -> Any:
    return next(iter(row.values())) if row else None
