"""The reference's compression rules, each a pure function of what it shrinks.

1. Source content: its key requirements and acceptance criteria (``source_summary``).
2. Plans: the approach and the steps, not the explanations around them (``plan``).
3. Checkpoints: the newest few in full, older ones as a one-line summary
   (``checkpoint_full``/``checkpoint_brief``; the loader picks which).
4. Prior tasks: the outcome, not ``outcome_detail`` (``outcome``).
5. File lists: the first 10 and "and N more" (``file_list``).
"""

from __future__ import annotations

import re
from typing import Any

MAX_FILES = 10
RECENT_CHECKPOINTS = 5
PLAN_FIELDS = ("approach", "steps", "files_to_modify", "files_to_create", "context_needed")
FILE_FIELDS = frozenset({"files_to_modify", "files_to_create", "files_changed", "files_likely_affected"})

HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)]|\[[ xX]\])\s+\S")
REQUIREMENT = re.compile(
    r"\b(must|should|shall|need(?:s|ed)?|require[sd]?|required|expect(?:s|ed)?|acceptance|criteria|"
    r"goal|so that|ensure|support|fix(?:es)?|bug|error|fail(?:s|ing)?)\b",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def file_list(files: list[str] | None, limit: int = MAX_FILES) -> list[str] | None:
    if not files or len(files) <= limit:
        return files
    return [*files[:limit], f"and {len(files) - limit} more"]


def source_summary(text: str | None) -> str | None:
    """Key requirements and acceptance criteria of a source (an issue, a prompt), extractively.

    Keeps the first line (the title), headings, list items, and sentences that state a
    requirement; drops code blocks and the rest of the prose. A source with none of these
    keeps its opening sentences. The loader then cuts the result to its token budget.
    """
    if not text or not text.strip():
        return None
    lines = strip_code(text).splitlines()
    kept = [lines[0].strip()] if lines and lines[0].strip() else []
    for line in lines[1:]:
        stripped = line.strip()
        if HEADING.match(line) or LIST_ITEM.match(line):
            kept.append(stripped)
        elif stripped:
            kept += [s for s in SENTENCE_END.split(stripped) if REQUIREMENT.search(s)]
    if len(kept) <= 1:
        kept = SENTENCE_END.split(" ".join(s.strip() for s in lines if s.strip()))[:3]
    return "\n".join(dict.fromkeys(k for k in kept if k))


def strip_code(text: str) -> str:
    return re.sub(r"```.*?(```|$)", "", text, flags=re.DOTALL)


def plan(task_plan: Any) -> Any:
    """A task plan as approach, steps and files; a plan that is not an object is kept as it is."""
    if not isinstance(task_plan, dict):
        return task_plan
    kept = {k: task_plan[k] for k in PLAN_FIELDS if task_plan.get(k)}
    return {k: file_list(v) if k in FILE_FIELDS else v for k, v in kept.items()}


def checkpoint_full(cp: dict[str, Any]) -> dict[str, Any]:
    out = {"sequence": cp["sequence"], "type": cp["checkpoint_type"], "summary": cp["summary"]}
    if cp.get("detail"):
        out["detail"] = cp["detail"]
    if cp.get("files_changed"):
        out["files_changed"] = file_list(cp["files_changed"])
    return out


def checkpoint_brief(cp: dict[str, Any]) -> dict[str, Any]:
    return {"sequence": cp["sequence"], "type": cp["checkpoint_type"], "summary": cp["summary"]}


def outcome(task: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """A prior task by its outcome; ``full`` adds ``outcome_detail`` and its files (``prior_task_full``)."""
    out = {"id": task["id"], "name": task["name"], "status": task["status"], "outcome": task.get("outcome")}
    if task.get("error") and task["status"] == "failed":
        out["error"] = task["error"]
    if full:
        out["outcome_detail"] = task.get("outcome_detail")
        out["files_changed"] = file_list(task.get("files_changed"))
    return out
