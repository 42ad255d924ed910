"""The one error type every surface shows: a value an agent or a person can act on."""

from __future__ import annotations

import json
from typing import Any


class CawError(Exception):
    """A refused request, with what went wrong and what to do next.

    The shape is the reference server's ToolError so an agent written for it reads ours
    unchanged: ``code`` is UPPER_SNAKE and stable, ``recoverable`` says whether trying
    again (after the suggestion) can succeed.
    """

    def __init__(
        self,
        code: str,
        message: str,
        recoverable: bool = False,
        suggestion: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.recoverable = recoverable
        self.suggestion = suggestion
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "recoverable": self.recoverable,
            "suggestion": self.suggestion,
        }
        if self.details:
            data["details"] = self.details
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        return f"CawError({self.code!r}, {self.message!r})"


def not_found(kind: str, ident: str) -> CawError:
    """``TASK_NOT_FOUND`` and friends: the id does not name a row of that kind."""
    return CawError(
        f"{kind.upper()}_NOT_FOUND",
        f"{kind.capitalize()} not found: {ident}",
        recoverable=False,
        suggestion=f"Check the {kind} id; list {kind}s to find the right one.",
    )


def invalid_input(message: str, suggestion: str = "Fix the parameters and call again.") -> CawError:
    return CawError("INVALID_INPUT", message, recoverable=True, suggestion=suggestion)


def conflict(message: str) -> CawError:
    """Another writer changed the row between our read and our write."""
    return CawError(
        "CONFLICT",
        message,
        recoverable=True,
        suggestion="Another agent changed this at the same time; read it again and retry.",
    )
