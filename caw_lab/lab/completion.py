"""Tab completion for ``%caw``: subcommands first, then the ids that fit where the cursor is.

Ids come from the tools (workflow_list, workflow_get, agent_list), so completion shows
what exists in the database the notebook uses right now. It is an IPython completion
matcher (the API ipykernel's Tab uses) that hides Jedi's Python guesses on a ``%caw``
line, where they never apply.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.completer import CompletionContext, SimpleCompletion, SimpleMatcherResult, context_matcher

from caw_lab.engine.states import CHECKPOINT_TYPES
from caw_lab.errors import CawError
from caw_lab.lab.session import LabSession

TAKES_WORKFLOW = {"next", "dag", "timeline", "run", "status", "suspend", "resume", "plan", "workbench", "metrics",
                  "hints"}
TAKES_TASK = {"claim", "checkpoint", "done", "context"}
RECENT_WORKFLOWS = 10
"""Task ids are offered from this many most recent workflows, to keep completion instant."""


def candidates(session: LabSession, subcommands: dict[str, argparse.ArgumentParser], line: str) -> list[str]:
    """What may go at the end of ``line`` (the text up to the cursor)."""
    words = line.split()
    position = len(words) if line.endswith((" ", "\t")) or not words else len(words) - 1
    if position <= 1:
        return sorted(subcommands)
    command, current = words[1], (words[-1] if position == len(words) - 1 else "")
    previous = words[position - 1]
    if current.startswith("-") and command in subcommands:
        return sorted(o for a in subcommands[command]._actions for o in a.option_strings)
    if command == "use":
        return []  # IPython's own file-name completion answers instead
    try:
        return ids_for(session, command, position, previous)
    except CawError:
        return []


def ids_for(session: LabSession, command: str, position: int, previous: str) -> list[str]:
    if previous == "--agent" or (command == "inbox" and position == 2):
        return [a["id"] for a in session.call("agent_list")["agents"]]
    if previous == "--template":
        return [t["name"] for t in session.call("template_list")["templates"]]
    if command == "checkpoint" and position == 3:
        return list(CHECKPOINT_TYPES)
    if position != 2:
        return []
    if command in TAKES_WORKFLOW:
        return workflow_ids(session)
    if command in TAKES_TASK:
        return task_ids(session)
    if command == "show":
        return workflow_ids(session) + task_ids(session)
    return []


def workflow_ids(session: LabSession) -> list[str]:
    return [w["id"] for w in session.call("workflow_list", limit=50)["workflows"]]


def task_ids(session: LabSession) -> list[str]:
    ids: list[str] = []
    for wf_id in workflow_ids(session)[:RECENT_WORKFLOWS]:
        ids += [t["id"] for t in session.call("workflow_get", id=wf_id, include_tasks=True)["tasks"]]
    return ids


MATCHER_ID = "caw_lab.completion"


def matcher(session: LabSession, subcommands: dict[str, argparse.ArgumentParser]) -> Any:
    """An IPython completion matcher bound to this session; inert outside ``%caw`` lines."""

    @context_matcher(identifier=MATCHER_ID, priority=10)
    def complete(context: CompletionContext) -> SimpleMatcherResult:
        line = context.text_until_cursor.lstrip()
        if context.cursor_line != 0 or not line.startswith(("%caw ", "%%caw ")):
            return {"completions": [], "suppress": False}
        found = [c for c in candidates(session, subcommands, line) if c.startswith(context.token)]
        return {"completions": [SimpleCompletion(text=c, type="caw") for c in found], "suppress": bool(found)}

    return complete
