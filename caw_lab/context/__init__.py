"""The context engine: what an agent reads after its context was cleared, and at what cost.

A ``task_load_context`` call, in the order a reader meets it: ``loader`` (the tool's
entry: ask, fit, assemble), ``surroundings`` (what surrounds the task, kept per feed
head, and what changed since a delta's cursor), ``current_task`` (its fields, resume
point and checkpoint trail), ``relevance`` (the payload's lists as items ranked by
``caw_lab.ranking``, with the workflow's priors), ``budget`` (how many tokens, how
they are split, and filling each slice), ``compression`` (the reference's rules
for shrinking each part), ``tokens`` (exact counts). Beside it: ``overview``
(``workflow_get_summary``) and ``caches`` (what is kept between loads).

This module holds what a load is asked for, ``Include``; it stays light to import, since
every ``caw --server`` imports the tools, and they import it, at start. docs/context.md
describes the behaviour.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from caw_lab.context.compression import RECENT_CHECKPOINTS

__all__ = ["Include"]


class Include(BaseModel):
    """``task_load_context``'s ``include`` flags: the reference's, with its defaults, plus
    ``recent_checkpoints`` (how many of the newest checkpoints are shown in full). Unknown
    flags are ignored, as the reference does."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    workflow_plan: bool = True
    workflow_summary: bool = True
    prior_task_outcomes: bool = True
    prior_task_full: bool = False
    sibling_status: bool = True
    dependency_outcomes: bool = True
    all_checkpoints: bool = False
    recent_checkpoints: int = Field(RECENT_CHECKPOINTS, ge=0, le=10_000)
