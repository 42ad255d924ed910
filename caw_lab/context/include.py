"""What a context load is asked to hold: ``task_load_context``'s ``include`` flags.

The reference's flags with its defaults, plus ``recent_checkpoints`` (how many of the
newest checkpoints are shown in full). One model serves the tool's input schema and the
loader, so it stays light to import: every ``caw --server`` imports the tools at start.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from caw_lab.context.compression import RECENT_CHECKPOINTS


class Include(BaseModel):
    """Unknown flags are ignored, as the reference does."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    workflow_plan: bool = True
    workflow_summary: bool = True
    prior_task_outcomes: bool = True
    prior_task_full: bool = False
    sibling_status: bool = True
    dependency_outcomes: bool = True
    all_checkpoints: bool = False
    recent_checkpoints: int = Field(RECENT_CHECKPOINTS, ge=0, le=10_000)
