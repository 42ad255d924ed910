"""A task's checkpoints as context entries, each worked out once per process.

A checkpoint never changes once written (a rollback only hides it from the trail), so
its entry, and the token costs of its full and one-line forms, are the same on every
load. A task's context is reloaded after every checkpoint it adds, and its trail is most
of what a load packs, so the entries are kept by checkpoint id (and encoding, which the
costs depend on) in a bounded table, not rebuilt and re-serialised on each load.
"""

from __future__ import annotations

import threading
from typing import Any

from caw_lab.context import compression
from caw_lab.context.packing import Entry

KIND = "checkpoints"
CACHE_SIZE = 50_000

_entries: dict[tuple[str, str, bool], Entry] = {}
_lock = threading.Lock()


def entry(checkpoint: dict[str, Any], full: bool, encoding: str) -> Entry:
    """The checkpoint in full (with its one-line form to fall back to), or as one line.

    A hit is one dictionary read, without the lock: a load reads its whole trail. Only
    adding takes the lock, and the oldest entry added goes first when the table is full."""
    key = (encoding, checkpoint["id"], full)
    found = _entries.get(key)
    if found is not None:
        return found
    brief = compression.checkpoint_brief(checkpoint)
    made = Entry(checkpoint["id"], compression.checkpoint_full(checkpoint), KIND, brief) if full \
        else Entry(checkpoint["id"], brief, KIND)
    with _lock:
        _entries[key] = made
        if len(_entries) > CACHE_SIZE:
            del _entries[next(iter(_entries))]
    return made


def clear() -> None:
    with _lock:
        _entries.clear()
