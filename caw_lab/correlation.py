"""The correlation id of the tool call in progress, shared by its log lines, its span and the
events it writes (each event's ``correlation_id`` starts with it), so one agent request can
be followed from the log to the change feed.

A call made while another is in progress (a template instantiating tasks, the executor
calling tools for an agent) keeps the outer call's id: it is the same request.

An id is drawn when something first asks for it, not when the call starts: most calls
write no event and are neither traced nor logged (every read, every claim that loses its
race), and drawing one for each of those was a visible share of such a call (bench/RESULTS.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from caw_lab.ids import new_id


class Correlation:
    """One request's correlation id, given or drawn on first use. Threads that run parts of
    the request (a tool in a worker thread) share this object through their copied context,
    so the first to ask draws the id and the others see that one."""

    __slots__ = ("_id",)
    _drawing = threading.Lock()

    def __init__(self, given: str | None = None) -> None:
        self._id = given

    @property
    def id(self) -> str:
        if self._id is None:
            with self._drawing:
                if self._id is None:
                    self._id = new_id("correlation")
        return self._id


_current: ContextVar[Correlation | None] = ContextVar("caw_correlation", default=None)


def current() -> str | None:
    held = _current.get()
    return held.id if held is not None else None


def bind(correlation_id: str | None = None) -> Token[Correlation | None]:
    """Bind ``correlation_id``, else keep the request's (one is bound), else start a new one,
    drawn when first asked for; ``unbind`` the token this returns when the call ends
    (``bound`` does both, for a ``with`` block)."""
    return _bind(correlation_id)[1]


def unbind(token: Token[Correlation | None]) -> None:
    _current.reset(token)


@contextmanager
def bound(correlation_id: str | None = None) -> Iterator[str]:
    """Run under ``correlation_id``, the one already bound, or a new one, in that order; the
    ``with`` block is handed the id, so it is drawn at once."""
    held, token = _bind(correlation_id)
    try:
        yield held.id
    finally:
        unbind(token)


def _bind(correlation_id: str | None) -> tuple[Correlation, Token[Correlation | None]]:
    held = _current.get()
    if correlation_id is not None or held is None:
        held = Correlation(correlation_id)
    return held, _current.set(held)
