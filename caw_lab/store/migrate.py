"""Numbered migrations, applied once each and recorded in ``schema_migrations``.

Each file ``NNN_name.sql`` runs as one batch together with its bookkeeping row, so a
migration is applied whole or not at all, on SQLite and on D1 alike. Two processes
opening a fresh database at once race on that row's primary key; the loser re-reads.

An up-to-date database is only read: opening one never queues behind a writer (or, on
D1, costs a write), so a stopped writer cannot keep anyone from reading.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

from caw_lab.errors import CawError
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
)


def available() -> list[tuple[int, str]]:
    files = resources.files("caw_lab.store") / "migrations"
    found = [(int(f.name.split("_", 1)[0]), f.read_text()) for f in files.iterdir() if f.name.endswith(".sql")]
    return sorted(found)


def split_statements(script: str) -> list[str]:
    """The statements of a migration file, each sent as one: a ``;`` ends a statement unless
    SQLite's own tokenizer says the statement goes on (a trigger's body, a quoted ``;``)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements, pending = [], ""
    for piece in "\n".join(lines).split(";"):
        pending += f"{piece};"
        if sqlite3.complete_statement(pending):
            if statement := pending.strip().removesuffix(";").strip():
                statements.append(statement)
            pending = ""
    return statements


def applied(db: Backend) -> set[int]:
    """The versions recorded; none in a database that has no ``schema_migrations`` yet."""
    try:
        return {r["version"] for r in db.query("SELECT version FROM schema_migrations")}
    except CawError as err:
        if "no such table" in err.message:
            return set()
        raise


def migrate(db: Backend) -> list[int]:
    """Bring the schema up to date; return the versions this call applied."""
    already = applied(db)
    if {version for version, _ in available()} <= already:
        return []
    db.batch([Statement(BOOKKEEPING)])
    done: list[int] = []
    for version, script in available():
        if version in already:
            continue
        statements = [Statement(s) for s in split_statements(script)]
        statements.append(
            Statement("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, now_ms()))
        )
        try:
            db.batch(statements)
        except CawError:
            if version not in applied(db):
                raise
            continue
        done.append(version)
    return done
