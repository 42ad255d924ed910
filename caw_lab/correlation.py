"""The correlation id of the tool call in progress, shared by its log lines, its span and the
events it writes (each event's ``correlation_id`` starts with it), so one agent request can
be followed from the log to the change feed.

A call made while another is in progress (a template instantiating tasks, the executor
calling tools for an agent) keeps the outer call's id: it is the same request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from caw_lab.ids import new_id

_current: ContextVar[str | None] = ContextVar("caw_correlation_id", default=None)


def current() -> str | None:
    return _current.get()


def bind(correlation_id: str | None = None) -> tuple[str, Token[str | None]]:
    """Bind ``correlation_id``, the one already bound, or a new one, in that order; ``unbind``
    the token this returns when the call ends (``bound`` does both, for a ``with`` block)."""
    cid = correlation_id or _current.get() or new_id("correlation")
    return cid, _current.set(cid)


def unbind(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def bound(correlation_id: str | None = None) -> Iterator[str]:
    """Run under ``correlation_id``, the one already bound, or a new one, in that order."""
    cid, token = bind(correlation_id)
    try:
        yield cid
    finally:
        unbind(token)
