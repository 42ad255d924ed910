"""Context payloads kept by the question they answered and the feed head they reflect.

A load is a function of the tables, its arguments and the token encoding, and every
mutation writes exactly one event in its own transaction (DESIGN.md), so at an unchanged
head the same question has the same answer: it is kept as its JSON text and parsed
again for each asker (callers may change what they get). The one input that moves
without an event is the clock, through memories' decaying confidence, so an answer is
used for at most ``FRESH_SECONDS``.

Agents do ask the same question twice: a recovering agent loads the context it lost,
a client retries a call that timed out, the notebook's task panel and the agent look at
the same task, and a loop of agents polls the task it waits on. Each such load costs the
head's read and a JSON parse instead of ranking and counting a trail.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable

from caw_lab.store.backend import Backend

FRESH_SECONDS = 1.0
KEPT_PER_BACKEND = 256

_kept: weakref.WeakKeyDictionary[Backend, OrderedDict[Hashable, tuple[int, float, str]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def recall(db: Backend, question: Hashable, head: int) -> str | None:
    """The kept answer's JSON text, if it was given at ``head`` less than ``FRESH_SECONDS`` ago."""
    with _lock:
        kept = _kept.get(db, {}).get(question)
    if kept is None:
        return None
    at, when, text = kept
    return text if at == head and time.monotonic() - when < FRESH_SECONDS else None


def keep(db: Backend, question: Hashable, head: int, text: str) -> None:
    """Keep ``text`` as the answer at ``head``; the least recently kept go past the bound."""
    with _lock:
        kept = _kept.setdefault(db, OrderedDict())
        kept[question] = (head, time.monotonic(), text)
        kept.move_to_end(question)
        while len(kept) > KEPT_PER_BACKEND:
            kept.popitem(last=False)


def clear() -> None:
    """Forget every kept answer (``caches.clear``)."""
    with _lock:
        _kept.clear()
