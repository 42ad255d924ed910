"""The two state machines, as one table each (DESIGN.md invariant 3).

Matches the reference server. ``blocked`` is not stored: a pending task shows as
blocked while any of its blocking dependencies is neither completed nor skipped.
"""

from __future__ import annotations

from typing import Any

from caw_lab.errors import CawError

WORKFLOW_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planning": ("ready", "abandoned"),
    "ready": ("in_progress", "abandoned"),
    "in_progress": ("paused", "completed", "failed", "abandoned", "awaiting_merge"),
    "paused": ("in_progress", "abandoned"),
    "awaiting_merge": ("completed", "abandoned"),
    "failed": ("in_progress",),
    "completed": (),
    "abandoned": (),
}

TASK_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("planning",),
    "blocked": ("planning",),
    "planning": ("in_progress", "completed"),
    "in_progress": ("completed", "paused", "failed"),
    "paused": ("in_progress",),
    "failed": ("pending", "skipped"),
    "completed": (),
    "skipped": (),
}

WORKFLOW_STATUSES = tuple(WORKFLOW_TRANSITIONS)
TASK_STATUSES = tuple(TASK_TRANSITIONS)
STORED_TASK_STATUSES = tuple(s for s in TASK_STATUSES if s != "blocked")
DONE_TASK_STATUSES = ("completed", "skipped")
"""Done: dependants may start."""
SETTLED_TASK_STATUSES = (*DONE_TASK_STATUSES, "failed")
"""Nothing more happens to the task without someone acting (a retry, a skip)."""
ACTIVE_TASK_STATUSES = ("planning", "in_progress")
"""An agent is working on it."""
CLAIMABLE_WORKFLOW_STATUSES = ("ready", "in_progress", "failed")
"""Work is handed out only while a workflow runs (or is being retried after a failure):
never while it is still being planned, paused, awaiting merge, or finished."""
CHECKPOINT_TYPES = ("plan", "progress", "decision", "error", "recovery", "complete", "replan", "handoff")


def sql_list(statuses: tuple[str, ...]) -> str:
    """A status group as SQL: ``('completed', 'skipped')``, for ``status IN ...``."""
    return "(" + ", ".join(f"'{s}'" for s in statuses) + ")"


DONE_SQL = sql_list(DONE_TASK_STATUSES)
ACTIVE_SQL = sql_list(ACTIVE_TASK_STATUSES)


def check_transition(kind: str, current: str, target: str) -> None:
    table = WORKFLOW_TRANSITIONS if kind == "workflow" else TASK_TRANSITIONS
    if target not in table:
        raise CawError(
            "INVALID_INPUT",
            f"Unknown {kind} status: {target!r}",
            recoverable=True,
            suggestion=f"Use one of: {', '.join(table)}.",
        )
    if target not in table[current]:
        allowed = ", ".join(table[current]) or "none (final state)"
        raise CawError(
            "INVALID_TRANSITION",
            f"Cannot move {kind} from {current} to {target}",
            recoverable=False,
            suggestion=f"From {current} a {kind} may move to: {allowed}.",
        )


def require_status(kind: str, row: dict[str, Any], allowed: tuple[str, ...], action: str) -> None:
    """Refuse ``action`` with INVALID_STATE unless the workflow or task ``row`` is in ``allowed``."""
    if row["status"] not in allowed:
        raise CawError(
            "INVALID_STATE",
            f"Cannot {action} while {kind} {row['id']} is {row['status']}",
            recoverable=False,
            suggestion=f"This needs the {kind} in: {', '.join(allowed)}.",
        )

WORKSPACE_STATUSES = ("active", "merged", "abandoned")
AGENT_STATUSES = ("online", "offline", "busy")
AGENT_ROLES = ("coordinator", "worker")
MESSAGE_STATUSES = ("unread", "read", "archived")
MESSAGE_TYPES = ("task_assignment", "status_update", "query", "response", "broadcast")
MESSAGE_PRIORITIES = ("low", "normal", "high", "urgent")
DEAD_LETTER_STATUSES = ("queued", "requeued", "discarded")
DEPENDENCY_TYPES = ("blocks", "informs")
COMPLEXITIES = ("low", "medium", "high")
SOURCE_TYPES = ("prompt", "github_issue", "linear", "jira", "custom", "template")
"""The other enumerated columns. The tools' input schemas offer the same values (a test
compares them); ``template`` is a source only templates set."""
