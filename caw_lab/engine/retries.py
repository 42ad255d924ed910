"""Retry policy: how many attempts a task gets, how long it waits between them, which
errors are worth another attempt.

The policy is the workflow's config ``retry`` with the task's own ``retry_policy`` laid
over it, key by key. ``attempts`` counts the attempts that failed (a reported failure or a
lost agent alike); after the n-th failure the task waits
``min(backoff_ms * backoff_factor ** (n - 1), max_backoff_ms)`` less up to ``jitter`` of
that at random, so agents failing together do not retry together and no wait is ever
longer than the nominal one. When ``attempts`` reaches ``max_attempts``, or the error
matches ``never_retry_on`` (or misses ``retry_on`` when that is given), the task goes to
the dead-letter queue instead.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from caw_lab.errors import CawError


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(3, ge=1, le=100)
    backoff_ms: int = Field(1000, ge=0, le=86_400_000)
    backoff_factor: float = Field(2.0, ge=1.0, le=10.0)
    max_backoff_ms: int = Field(300_000, ge=0, le=86_400_000)
    jitter: float = Field(0.2, ge=0.0, le=1.0)
    retry_on: list[str] | None = Field(None, description="Regexes; when given, only matching errors are retried.")
    never_retry_on: list[str] = Field(default_factory=list, description="Regexes of errors never retried.")

    @field_validator("retry_on", "never_retry_on")
    @classmethod
    def compiles(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return patterns


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt: ``retry`` after ``delay_ms``, else dead-letter for ``reason``."""

    retry: bool
    delay_ms: int
    reason: str


def parse(raw: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Validate a (partial) policy as given in config; keys left out keep their defaults."""
    data = dict(raw or {})
    try:
        RetryPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(policy)'}: {e['msg']}" for e in exc.errors())
        raise CawError("INVALID_CONFIG", f"Invalid retry policy in {where}: {problems}", recoverable=True,
                       suggestion="Fix the retry policy (see docs/execution.md for its keys).") from None
    return data


def workflow_policy(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's own ``retry`` config, checked."""
    return parse((workflow.get("config") or {}).get("retry"), f"workflow {workflow['id']}")


def policy_for(workflow: Mapping[str, Any], task: Mapping[str, Any]) -> RetryPolicy:
    """The policy that applies to ``task``: the workflow's ``retry`` config, overridden by the task's."""
    own = parse(task.get("retry_policy"), f"task {task['id']}")
    return RetryPolicy.model_validate({**workflow_policy(workflow), **own})


def delay_ms(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> int:
    """The wait before retrying after failure number ``attempt`` (1 for the first)."""
    nominal = min(policy.backoff_ms * policy.backoff_factor ** max(attempt - 1, 0), policy.max_backoff_ms)
    return int(nominal * (1 - policy.jitter * rand()))


def retryable(policy: RetryPolicy, error: str) -> bool:
    if any(re.search(p, error, re.IGNORECASE) for p in policy.never_retry_on):
        return False
    return policy.retry_on is None or any(re.search(p, error, re.IGNORECASE) for p in policy.retry_on)


def decide(policy: RetryPolicy, attempts: int, error: str) -> Decision:
    """After ``attempts`` failed attempts (this one included), retry or give up."""
    if not retryable(policy, error):
        return Decision(False, 0, "error is not retryable")
    if attempts >= policy.max_attempts:
        return Decision(False, 0, f"used all {policy.max_attempts} attempts")
    return Decision(True, delay_ms(policy, attempts), "retry")
