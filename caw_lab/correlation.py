"""The correlation id of the tool call in progress, shared by its log lines, its span and the
events it writes (each event's ``correlation_id`` starts with it), so one agent request can
be followed from the log to the change feed.

A call made while another is in progress (a template instantiating tasks, the executor
calling tools for an agent) keeps the outer call's id: it is the same request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from caw_lab.ids import new_id

_current: ContextVar[str | None] = ContextVar("caw_correlation_id", default=None)


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(correlation_id: str | None = None) -> Iterator[str]:
    """Run under ``correlation_id``, the one already bound, or a new one, in that order."""
    cid = correlation_id or _current.get() or new_id("correlation")
    token = _current.set(cid)
    try:
        yield cid
    finally:
        _current.reset(token)
