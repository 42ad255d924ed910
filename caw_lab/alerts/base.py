"""An alert as sinks receive it, and the one-method base class every sink implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Alert:
    seq: int
    at: int
    alert: str
    """What happened: ``agent_lost``, ``task_dead_lettered``, ``workflow_failed``..."""
    severity: str
    message: str
    workflow_id: str | None = None
    task_id: str | None = None
    agent_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    """The alert event's, which starts with the id of the tool call that raised it, if one did."""

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Alert:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k in row})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sink(ABC):
    @property
    def name(self) -> str:
        """How logs and ``alert.undelivered`` events name this sink: never a secret (a webhook's path)."""
        return type(self).__name__

    @abstractmethod
    def send(self, alert: Alert, deadline: float | None = None) -> None:
        """Deliver one alert, giving up at ``deadline`` (``time.monotonic()``) when one is given;
        raise if it could not be delivered."""


class CallbackSink(Sink):
    """Any function of one alert, e.g. a notebook showing a toast."""

    def __init__(self, fn: Callable[[Alert], Any]) -> None:
        self.fn = fn

    def send(self, alert: Alert, deadline: float | None = None) -> None:
        self.fn(alert)
