"""What the context engine keeps between loads, and how to forget all of it at once.

One mechanism, ``Kept``: a bounded map that forgets its oldest entry past its size, safe
across the worker threads tool calls run on. Each use is a module-level
``Kept`` named for what it keeps, with its rule for when a kept value no longer holds:

- ``surroundings.WORKFLOWS``: a workflow's tasks and edges as of one change-feed head,
  with the ranker's scores and the entries built from them;
- ``loader.ANSWERS``: whole payloads by question and feed head, for at most a second;
- ``loader.SUMMARIES``: compressed sources by their text;
- ``current_task.CHECKPOINTS``: checkpoints' entries with their costs, by checkpoint id;
- each ``tokens.TokenCounter``'s counts, by text.

The ranking library, which imports nothing of this package, memoizes its two pure
functions with ``functools.lru_cache``: corpora by the items' content, the model by path.

Each stays because ``python -m bench.context --caches`` shows what a load costs without
it (bench/RESULTS.md). Nothing is lost by forgetting: each is rebuilt from its source on
the next read; the benchmark forgets everything to time a cold load (``forget_all``).

A value kept for one database is keyed by ``of_backend(db)``: a weak reference, so a kept
value neither keeps a closed backend alive nor is ever found by another backend that
happens to reuse its address.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Any, ClassVar, Generic, TypeVar

from caw_lab.store.backend import Backend

V = TypeVar("V")


class Kept(Generic[V]):
    """A bounded, thread-safe map from keys to values; past ``size`` the value put longest ago goes.

    A read is one dictionary lookup, without the lock: a load reads a few hundred kept values
    (its trail's entries, its fields' token counts). Writes take the lock."""

    every: ClassVar[weakref.WeakSet[Kept[Any]]] = weakref.WeakSet()

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[Hashable, V] = {}
        self._lock = threading.Lock()
        Kept.every.add(self)

    def get(self, key: Hashable) -> V | None:
        return self._items.get(key)

    def put(self, key: Hashable, value: V) -> V:
        """Keep ``value`` as the newest entry, forgetting the oldest past ``size``; returns it."""
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self.size:
                del self._items[next(iter(self._items))]
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def of_backend(db: Backend) -> weakref.ref[Backend]:
    return weakref.ref(db)


def forget_all() -> None:
    """Empty every cache of the context engine and of the ranking library (a cold start on demand)."""
    from caw_lab.context import tokens
    from caw_lab.ranking import features, rankers

    for kept in list(Kept.every):
        kept.clear()
    tokens.clear()
    features.build.cache_clear()
    rankers.load.cache_clear()
