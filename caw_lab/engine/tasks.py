"""Tasks: their shape as returned, status changes through the state machine, plans."""

from __future__ import annotations

from typing import Any


def view(task: dict[str, Any], blocked: bool, depends_on: list[str]) -> dict[str, Any]:
    """A task as the tools show it: ``status`` reads ``blocked`` when it is computed so."""
    shown = dict(task)
    shown["stored_status"] = task["status"]
    if blocked and task["status"] == "pending":
        shown["status"] = "blocked"
    shown["blocked"] = blocked
    shown["depends_on"] = depends_on
    return shown
