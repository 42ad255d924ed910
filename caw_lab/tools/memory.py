"""Memory tools: record what was learned, confirm it, let it fade, and recall the best of it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import memories
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

MemoryType = Literal["pattern", "pitfall", "decision", "learning"]


class MemoryReinforceResult(Result):
    id: str
    repository_id: str | None
    topic: str
    memory_type: str
    content: str
    confidence: float
    reinforcement_count: int
    last_reinforced_at: int
    decay_rate: float
    metadata: dict[str, Any] | None
    created_at: int
    updated_at: int


class MemoryCreateResult(MemoryReinforceResult):
    reinforced: bool


class MemoryDecayResult(Result):
    decayed: int
    removed: int
    removed_ids: list[str]
    threshold: float


class MemoryRecallResult(Result):
    memories: list[dict[str, Any]]
    total: int


class MemoryCreate(Params):
    topic: str = Field(min_length=1)
    content: str = Field(min_length=1)
    memory_type: MemoryType = "learning"
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    decay_rate: float = Field(memories.DEFAULT_DECAY_RATE, ge=0.0, le=10.0)
    repository_path: str | None = None
    metadata: dict[str, Any] | None = None


@tool("memory_create", "Record a memory about a topic; the same topic and content again reinforces it.",
      read_only=False, result=MemoryCreateResult)
def memory_create(db: Backend, p: MemoryCreate) -> dict[str, Any]:
    return memories.create(db, **p.model_dump())


class MemoryReinforce(Params):
    id: str
    step: float = Field(memories.REINFORCE_STEP, gt=0.0, le=1.0)


@tool("memory_reinforce", "Confirm a memory: confidence moves step (default half) of the way to 1, count goes up.",
      read_only=False, result=MemoryReinforceResult)
def memory_reinforce(db: Backend, p: MemoryReinforce) -> dict[str, Any]:
    return memories.reinforce(db, p.id, p.step)


class MemoryDecay(Params):
    threshold: float = Field(memories.PRUNE_BELOW, ge=0.0, le=1.0)
    topic: str | None = None
    repository_path: str | None = None


@tool("memory_decay", "Apply time decay to memories and remove those whose confidence fell below threshold.",
      read_only=False, destructive=True, result=MemoryDecayResult)
def memory_decay(db: Backend, p: MemoryDecay) -> dict[str, Any]:
    return memories.decay(db, threshold=p.threshold, topic=p.topic, repository_path=p.repository_path)


class MemoryRecall(Params):
    query: str | None = None
    topic: str | None = None
    memory_type: MemoryType | None = None
    repository_path: str | None = None
    min_confidence: float = Field(memories.PRUNE_BELOW, ge=0.0, le=1.0)
    limit: int = Field(10, ge=1, le=1000)


@tool("memory_recall", "Memories matching a query or topic, ranked by current confidence times text match.",
      read_only=True, result=MemoryRecallResult)
def memory_recall(db: Backend, p: MemoryRecall) -> dict[str, Any]:
    return memories.recall(db, **p.model_dump())
