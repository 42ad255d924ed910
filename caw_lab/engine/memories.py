"""Memories: what agents learned about a codebase, fading unless something confirms it again.

Confidence decays exponentially, ``c(t) = c * exp(-decay_rate * days)``, as in the
reference. The stored ``confidence`` is the value as of ``updated_at``, and every write
(create, reinforce, decay) stores the value as of its own time, so applying decay twice
never counts the same days twice; reads compute the current value on the fly.

``decay`` *removes* memories whose current confidence is below the threshold (0.1 by
default, the reference's prune threshold) rather than flooring them: a memory that weak
would only crowd better ones out of a recall, and the decay event keeps the removed
topics and ids for audit. Reinforcing closes half of the gap to 1.0 (the reference's step).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from caw_lab.engine.changes import Event, Gated, commit, insert, raw
from caw_lab.engine.repositories import checked, ensure_statement, resolved
from caw_lab.engine.rows import decode, encode, fetch
from caw_lab.errors import conflict
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_DECAY_RATE = 0.05
PRUNE_BELOW = 0.1
REINFORCE_STEP = 0.5
TERM = re.compile(r"[0-9a-z]+")


def current_confidence(memory: dict[str, Any], now: int) -> float:
    days = max(0, now - memory["updated_at"]) / DAY_MS
    return max(0.0, min(1.0, memory["confidence"] * math.exp(-memory["decay_rate"] * days)))


def view(memory: dict[str, Any], now: int) -> dict[str, Any]:
    return {**decode(memory), "confidence": current_confidence(memory, now)}


def create(
    db: Backend,
    *,
    topic: str,
    content: str,
    memory_type: str = "learning",
    confidence: float = 1.0,
    decay_rate: float = DEFAULT_DECAY_RATE,
    repository_path: str | None = None,
    metadata: dict[str, Any] | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """Record a memory; the same topic and content again (same repository) reinforces it instead."""
    now = now or now_ms()
    path = checked(repository_path) if repository_path else None
    same = db.one(
        "SELECT m.id FROM memories m LEFT JOIN repositories r ON r.id = m.repository_id "
        "WHERE m.topic = ? AND m.content = ? AND r.path IS ?", (topic, content, path))
    if same:
        return {**reinforce(db, same["id"], now=now), "reinforced": True}
    row = {"id": new_id("memory"), "repository_id": None, "topic": topic, "memory_type": memory_type,
           "content": content, "confidence": confidence, "reinforcement_count": 1, "last_reinforced_at": now,
           "decay_rate": decay_rate, "metadata": encode(metadata), "created_at": now, "updated_at": now}
    statements = [insert("memories", row)]
    if path:
        statements = [ensure_statement(path), *statements, raw(
            "UPDATE memories SET repository_id = (SELECT id FROM repositories WHERE path = ?) WHERE id = ? AND",
            (path, row["id"]))]
    commit(db, Event("memory.created", payload={"memory_id": row["id"], "topic": topic, "memory_type": memory_type}),
           then=statements)
    return {**view(fetch(db, "memory", row["id"]), now), "reinforced": False}


def reinforce(db: Backend, memory_id: str, step: float = REINFORCE_STEP, now: int | None = None) -> dict[str, Any]:
    """Confirm a memory: its current confidence moves ``step`` of the way to 1.0, its count goes up."""
    now = now or now_ms()
    memory = fetch(db, "memory", memory_id)
    before = current_confidence(memory, now)
    after = min(1.0, before + (1.0 - before) * step)
    guard = Statement(
        "UPDATE memories SET confidence = ?, reinforcement_count = reinforcement_count + 1, "
        "last_reinforced_at = ?, updated_at = ? WHERE id = ? AND updated_at = ?",
        (after, now, now, memory_id, memory["updated_at"]),
    )
    event = Event("memory.reinforced", payload={"memory_id": memory_id, "from": before, "to": after})
    if commit(db, event, guard=guard) is None:
        raise conflict(f"Memory {memory_id} changed while it was being reinforced")
    return view(fetch(db, "memory", memory_id), now)


def decay(
    db: Backend,
    *,
    threshold: float = PRUNE_BELOW,
    topic: str | None = None,
    repository_path: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """Store every (matching) memory's decayed confidence; remove those below ``threshold``.

    Each row's write is conditioned on its ``updated_at`` being unchanged, so a memory
    reinforced meanwhile keeps its reinforcement.
    """
    now = now or now_ms()
    rows = select(db, topic=topic, repository_path=repository_path)
    weak = [m for m in rows if current_confidence(m, now) < threshold]
    kept = [m for m in rows if current_confidence(m, now) >= threshold]
    statements = [Gated("DELETE FROM memories WHERE id = ? AND updated_at = ? AND", (m["id"], m["updated_at"]),
                        returning="id") for m in weak]
    statements += [raw("UPDATE memories SET confidence = ?, updated_at = ? WHERE id = ? AND updated_at = ? AND",
                       (current_confidence(m, now), now, m["id"], m["updated_at"])) for m in kept]
    event = Event("memory.decayed", payload={
        "threshold": threshold, "decayed": len(kept),
        "removed": [{"memory_id": m["id"], "topic": m["topic"]} for m in weak]})
    done = commit(db, event, then=statements)
    assert done is not None
    removed = [r["id"] for rows_ in done.rows[: len(weak)] for r in rows_]
    return {"decayed": len(kept), "removed": len(removed), "removed_ids": removed, "threshold": threshold}


def select(
    db: Backend, *, topic: str | None = None, memory_type: str | None = None, repository_path: str | None = None
) -> list[dict[str, Any]]:
    """Memories by exact topic (any case), type, and repository (its own plus global ones)."""
    where, params = ["1 = 1"], []
    if topic:
        where.append("topic = ? COLLATE NOCASE")
        params.append(topic)
    if memory_type:
        where.append("memory_type = ?")
        params.append(memory_type)
    if repository_path:
        where.append("(repository_id IS NULL OR repository_id = (SELECT id FROM repositories WHERE path = ?))")
        params.append(resolved(repository_path))
    return db.query(f"SELECT * FROM memories WHERE {' AND '.join(where)} ORDER BY created_at, id", params)


def recall(
    db: Backend,
    *,
    query: str | None = None,
    topic: str | None = None,
    memory_type: str | None = None,
    repository_path: str | None = None,
    min_confidence: float = PRUNE_BELOW,
    limit: int = 10,
    now: int | None = None,
) -> dict[str, Any]:
    """The memories best matching ``query``, ranked by current confidence times text match."""
    now = now or now_ms()
    terms = sorted(set(TERM.findall((query or "").lower())))
    found = []
    for memory in select(db, topic=topic, memory_type=memory_type, repository_path=repository_path):
        confidence = current_confidence(memory, now)
        match = text_match(terms, f"{memory['topic']} {memory['content']}")
        if confidence >= min_confidence and match > 0:
            found.append({**view(memory, now), "text_match": match, "score": confidence * match})
    found.sort(key=lambda m: (-m["score"], -m["reinforcement_count"], -m["updated_at"], m["id"]))
    return {"memories": found[:limit], "total": len(found)}


def text_match(terms: Sequence[str], text: str) -> float:
    """The share of query terms that some word of ``text`` starts with (1.0 with no query)."""
    if not terms:
        return 1.0
    words = set(TERM.findall(text.lower()))
    return sum(1 for t in terms if any(w.startswith(t) for w in words)) / len(terms)
