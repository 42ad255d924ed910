"""Context tools: ``task_load_context`` (recovery after a context reset) and ``workflow_get_summary``.

The context engine (numpy, the token encoder, the relevance model) is imported by the
tools when first called, not with this module: every ``caw --server`` imports every tool
module at start, and most sessions load a context once if at all.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.context import Include
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskLoadContextResult(Result):
    workflow: dict[str, Any] | None
    current_task: dict[str, Any] | None
    prior_tasks: list[dict[str, Any]] | None
    sibling_tasks: list[dict[str, Any]] | None
    dependency_outcomes: list[dict[str, Any]] | None
    memories: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] | None = None
    omitted: dict[str, Any] | None = None
    delta: bool | None = None
    since_seq: int | None = None
    cursor: int
    token_estimate: int


class WorkflowGetSummaryResult(Result):
    summary: str
    token_estimate: int


class TaskLoadContext(Params):
    task_id: str
    include: Include | None = None
    max_tokens: int | None = Field(None, ge=1, le=2_000_000)
    since_seq: int | None = Field(None, ge=0)
    ranker: Literal["learned", "bm25", "tfidf", "recency"] = "learned"


@tool(
    "task_load_context",
    "Load a task's context after a reset, within max_tokens (else an adaptive budget): workflow, the task and "
    "its checkpoints, relevant prior tasks, siblings, dependency outcomes; token_estimate is its exact token "
    "count. since_seq=<cursor> returns only what changed.",
    read_only=True,
    result=TaskLoadContextResult,
)
def task_load_context(db: Backend, p: TaskLoadContext) -> dict[str, Any]:
    from caw_lab.context import loader

    return loader.load(db, p.task_id, p.include, p.max_tokens, p.since_seq, p.ranker)


class WorkflowGetSummary(Params):
    id: str
    format: Literal["json", "markdown"] = "json"


@tool("workflow_get_summary", "A workflow at a glance (JSON text or Markdown), with its exact token count.",
      read_only=True, result=WorkflowGetSummaryResult)
def workflow_get_summary(db: Backend, p: WorkflowGetSummary) -> dict[str, Any]:
    from caw_lab.context import overview

    return overview.summary(db, p.id, p.format)
