"""Storage: the Backend seam, its SQLite implementation, migrations and DB location."""

from caw_lab.store.backend import Backend, Row, Statement
from caw_lab.store.location import resolve_db
from caw_lab.store.migrate import migrate
from caw_lab.store.sqlite import SQLiteBackend


def open_backend(db: str | None = None) -> Backend:
    """Open (and migrate) the database named by ``db`` or the environment.

    ``d1://ACCOUNT/DATABASE`` selects Cloudflare D1; anything else is a SQLite path.
    """
    target = resolve_db(db)
    backend: Backend
    if target.startswith("d1://"):
        from caw_lab.store.d1 import D1Backend

        backend = D1Backend.from_url(target)
    else:
        backend = SQLiteBackend(target)
    migrate(backend)
    return backend


__all__ = ["Backend", "Row", "SQLiteBackend", "Statement", "migrate", "open_backend", "resolve_db"]
