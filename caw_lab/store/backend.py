"""The one seam between the engine and a database: SQL in, rows out, batches atomic.

Kept as small as httpx's transport base class so a new database (D1, a test double)
is one subclass. There is deliberately no ``begin``/``commit``: D1 has no interactive
transactions, so the engine expresses every change as one batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

Row = dict[str, Any]


READ_PREFIXES = ("SELECT", "WITH", "PRAGMA", "EXPLAIN")


def reads(sql: str) -> bool:
    """Whether a statement only reads, as far as its first word tells: backends use it to wait
    less (SQLite) or retry more (D1); atomicity never depends on it."""
    return sql.lstrip()[:7].upper().startswith(READ_PREFIXES)


class Statement(NamedTuple):
    sql: str
    params: tuple[Any, ...] = ()


class Backend(ABC):
    """A SQLite-dialect database reached by single statements and atomic batches."""

    url: str
    loses_replies: ClassVar[bool] = False
    """Whether a batch's reply can be lost after the batch applied (a network in between):
    ``engine.changes`` then makes its batches safe to send again and asks for ``retry``."""
    remote: ClassVar[bool] = False
    """Whether each request is a round trip over a network (D1): a read that may prove unneeded
    then rides in the batch of the needed ones, where on a local file it is cheaper skipped."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement outside any batch and return its rows."""

    @abstractmethod
    def batch(self, statements: Sequence[Statement], *, retry: bool = False) -> list[list[Row]]:
        """Run statements as one atomic unit; return each statement's rows.

        Either every statement applies or none does; an error in any statement
        leaves the database as it was. ``retry`` is the caller's word that sending the
        batch again can never apply it twice (``engine.changes`` batches stop themselves
        when their change is already in the feed), so a backend that can lose a reply
        (D1) may send it again, as it does reads.
        """

    def read_all(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """Independent reads as one unit (``store.reads.Reads``): one batch, so one request
        where a request is a round trip, and one snapshot of the database for all of them."""
        if len(statements) == 1:
            return [self.query(*statements[0])]
        return self.batch(statements)

    def close(self) -> None:
        """Release connections; the default has nothing to release."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return next(iter(row.values())) if row else None
