"""How a workflow is executed: its ``execution`` config, overridden by what workflow_start or
``caw run`` was given.

Keys (all optional), set with workflow_set_config ``{"execution": {...}}``:

- ``runtime``: the runtime for every task (``claude_code`` by default, as the reference
  spawns Claude Code); a task's own ``runtime`` (task_set_execution) wins.
- ``runtimes``: options per runtime name, e.g. ``{"python": {"mode": "process"}}``; never
  the options that choose what runs (``command``, ``executable``, ``extra_args``, ``env``,
  ``work``): those come from the local user (``local_config``) and are refused here.
- ``max_agents``: agents at once (default: the workflow's max_parallel_tasks), or ``"auto"``:
  as many as the workflow's scaling hints recommend (engine/scaling.py), between
  ``min_agents`` (1) and max_parallel_tasks, for the ready queue to drain within
  ``target_drain_ms`` (10 minutes).
- ``heartbeat_timeout_ms``: silence after which an agent counts as lost (30 s).
- ``task_timeout_ms``: an attempt running longer is stopped and counts as failed (none).
- ``poll_interval_ms``, ``stop_grace_ms``: how often the executor looks (200 ms), how long
  a stopping agent gets before it is killed (5 s).
- ``model``, ``permission_mode``, ``max_turns``, ``max_budget_usd``, ``cwd``: the
  reference's workflow_start options, for the LLM runtimes.
- ``ephemeral_worktree``: each Claude Code agent works in a throwaway git worktree that
  Claude Code makes and removes itself (its ``--worktree``; ``caw run --ephemeral-worktree``),
  not in the workflow's directory; off by default. Other runtimes ignore it.
- ``alerts``: ``{"log": true, "webhook": "https://..."}``, where alerts are sent;
  ``webhook_attempts`` (4), ``webhook_timeout_ms`` (2 s a step of an attempt) and
  ``drain_ms`` (3 s: the most a run's end waits for its alerts, alerts/dispatch.py).
- ``conflicts``: ``serialize`` (the default) makes each claim take exclusive leases on the
  task's ``files_likely_affected`` (engine/leases.py), so a task whose files overlap a
  running task's waits for it to finish; ``rebase`` and ``manual`` take no leases.
- ``open_pull_requests``: when every task is done, push each active workspace's branch and
  open its GitHub pull request (gitops/pull_requests.py); off by default.

The retry policy lives beside it, under ``retry`` (engine/retries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caw_lab.engine.commands import refuse_commands
from caw_lab.engine.scaling import TARGET_DRAIN_MS
from caw_lab.errors import CawError
from caw_lab.runtimes.base import PermissionMode, RunOptions


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: bool = True
    webhook: str | None = None
    webhook_attempts: int = Field(4, ge=1, le=20)
    webhook_timeout_ms: int = Field(2_000, ge=100, le=30_000)
    drain_ms: int = Field(3_000, ge=0, le=60_000)
    """The most a run waits for its last alerts at its end; what is unsent then is recorded undelivered."""


class ExecutionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime: str = "claude_code"
    runtimes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_agents: Annotated[int, Field(ge=1, le=100)] | Literal["auto"] | None = None
    min_agents: int = Field(1, ge=1, le=100)
    target_drain_ms: int = Field(TARGET_DRAIN_MS, ge=1)
    heartbeat_timeout_ms: int = Field(30_000, ge=100)
    task_timeout_ms: int | None = Field(None, ge=100)
    poll_interval_ms: int = Field(200, ge=10, le=60_000)
    stop_grace_ms: int = Field(5_000, ge=0, le=600_000)
    model: str | None = None
    permission_mode: PermissionMode = "bypassPermissions"
    max_turns: int = Field(50, ge=1)
    max_budget_usd: float | None = Field(None, ge=0)
    ephemeral_worktree: bool = False
    cwd: str | None = None
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    open_pull_requests: bool = False
    conflicts: Literal["serialize", "rebase", "manual"] = "serialize"

    @property
    def run_options(self) -> RunOptions:
        return RunOptions(self.model, self.permission_mode, self.max_turns, self.max_budget_usd,
                          self.ephemeral_worktree)

    @property
    def heartbeat_interval_s(self) -> float:
        """Three beats per timeout, so one late beat never makes a live agent look lost."""
        return min(self.heartbeat_timeout_ms / 3000, 10.0)


def resolve(workflow: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ExecutionSettings:
    """The workflow's ``execution`` config with ``overrides`` (None values ignored) laid over it."""
    config = dict((workflow.get("config") or {}).get("execution") or {})
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        settings = ExecutionSettings.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(execution)'}: {e['msg']}" for e in exc.errors())
        raise CawError("INVALID_CONFIG", f"Invalid execution config for workflow {workflow['id']}: {problems}",
                       recoverable=True,
                       suggestion="Fix the workflow's execution config (workflow_set_config).") from None
    refuse_commands(settings.runtimes, workflow["id"])
    if settings.max_agents is None:
        settings = settings.model_copy(update={"max_agents": workflow["max_parallel_tasks"]})
    return settings
