"""Storage: the Backend seam, its SQLite implementation, migrations and DB location."""

from caw_lab.store.backend import Backend, Row, Statement
from caw_lab.store.location import resolve_db
from caw_lab.store.migrate import migrate
from caw_lab.store.sqlite import SQLiteBackend


def open_backend(db: str | None = None) -> Backend:
    """Open (and migrate) the database named by ``db`` or the environment."""
    backend = SQLiteBackend(resolve_db(db))
    migrate(backend)
    return backend


__all__ = ["Backend", "Row", "SQLiteBackend", "Statement", "migrate", "open_backend", "resolve_db"]
