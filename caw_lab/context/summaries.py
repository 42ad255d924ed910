"""Compressed texts cached in SQLite, keyed by the source's content hash and compressor version.

Compressing a long issue body on every reload is wasted work, so its summary (and the
summary's token count) is stored in ``context_summaries``. A changed source hashes
differently and a new ``compression.VERSION`` is part of the key, so a stale summary is
never read; ``prune`` drops the rows no version in use can read.

**Exempt from the event rule, on purpose.** These rows are derived data, not domain
state: any of them can be deleted and is rebuilt identically from the source on the
next read, no tool result depends on whether a row existed, and nothing follows them. An
event per cache fill would make a *read* (task_load_context) write to the change feed,
waking every follower and polluting delta loads with non-changes. So a fill is one
idempotent ``INSERT OR REPLACE``, best effort: if the database is busy the summary is
returned uncached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from caw_lab.context import compression
from caw_lab.context.tokens import counter
from caw_lab.errors import CawError
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

SOURCE = "source"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def source_summary(db: Backend, text: str | None) -> str | None:
    return cached(db, SOURCE, text, compression.source_summary)


def cached(db: Backend, kind: str, text: str | None, make: Callable[[str | None], str | None]) -> str | None:
    """``make(text)``, from the cache when this text was compressed by this compressor before."""
    if not text:
        return make(text)
    key = (content_hash(text), kind, compression.VERSION)
    enc = counter()
    row = db.one(
        "SELECT summary, tokens, encoding FROM context_summaries "
        "WHERE content_hash = ? AND kind = ? AND compressor_version = ?",
        key,
    )
    if row is not None:
        if row["encoding"] == enc.name:
            enc.remember(row["summary"], row["tokens"])
        return row["summary"]
    summary = make(text)
    if summary is not None:
        store(db, key, summary, enc.count(summary), enc.name)
    return summary


def store(db: Backend, key: tuple[str, str, int], summary: str, tokens: int, encoding: str) -> None:
    sql = (
        "INSERT OR REPLACE INTO context_summaries "
        "(content_hash, kind, compressor_version, summary, tokens, encoding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    try:
        db.batch([Statement(sql, (*key, summary, tokens, encoding, now_ms()))], wait=False)
    except CawError as err:
        if err.code != "DATABASE_BUSY":
            raise


def prune(db: Backend) -> int:
    """Delete summaries made by other compressor versions; returns how many went."""
    rows = db.batch([Statement(
        "DELETE FROM context_summaries WHERE compressor_version != ? RETURNING content_hash", (compression.VERSION,)
    )])
    return len(rows[0])


def clear(db: Backend) -> int:
    """Delete every cached summary (all are rebuilt on demand); returns how many went."""
    rows = db.batch([Statement("DELETE FROM context_summaries RETURNING content_hash")])
    return len(rows[0])
