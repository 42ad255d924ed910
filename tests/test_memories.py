"""Memories: create, reinforce, decay by elapsed time (removing weak ones), recall by rank."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import caw_lab
from caw_lab.engine import memories
from caw_lab.engine.memories import DAY_MS
from caw_lab.ids import now_ms
from tests.conftest import dump


def kinds(client: caw_lab.Client) -> list[str]:
    return [e["kind"] for e in client.call("events_list", kinds=None)["events"] if e["kind"].startswith("memory.")]


def test_lifecycle_create_reinforce_decay_recall(client: caw_lab.Client) -> None:
    memory = client.call("memory_create", topic="testing", content="Run pytest with -x to stop early",
                         memory_type="pattern", confidence=0.6)
    assert (memory["confidence"], memory["reinforcement_count"], memory["reinforced"]) == (0.6, 1, False)
    reinforced = client.call("memory_reinforce", id=memory["id"])
    assert reinforced["confidence"] == pytest.approx(0.8, abs=1e-3)
    assert reinforced["reinforcement_count"] == 2

    later = now_ms() + 10 * DAY_MS
    result = memories.decay(client.db, now=later)
    assert (result["decayed"], result["removed"]) == (1, 0)
    recalled = memories.recall(client.db, query="pytest", now=later)["memories"]
    assert recalled[0]["confidence"] == pytest.approx(0.8 * math.exp(-0.5), abs=1e-3)

    much_later = later + 60 * DAY_MS
    result = memories.decay(client.db, now=much_later)
    assert result["removed_ids"] == [memory["id"]]
    assert client.call("memory_recall", query="pytest")["memories"] == []
    assert kinds(client) == ["memory.created", "memory.reinforced", "memory.decayed", "memory.decayed"]


def test_decay_twice_does_not_count_the_same_days_twice(client: caw_lab.Client) -> None:
    start = now_ms()
    memory = memories.create(client.db, topic="t", content="c", now=start)
    memories.decay(client.db, now=start + 5 * DAY_MS)
    memories.decay(client.db, now=start + 10 * DAY_MS)
    shown = memories.recall(client.db, now=start + 10 * DAY_MS)["memories"][0]
    assert shown["id"] == memory["id"]
    assert shown["confidence"] == pytest.approx(math.exp(-0.05 * 10), rel=1e-6)


def test_decay_removes_only_memories_under_the_threshold(client: caw_lab.Client) -> None:
    start = now_ms()
    fast = memories.create(client.db, topic="t", content="fast", decay_rate=1.0, now=start)
    slow = memories.create(client.db, topic="t", content="slow", decay_rate=0.01, now=start)
    result = memories.decay(client.db, threshold=0.5, now=start + 2 * DAY_MS)
    assert result["removed_ids"] == [fast["id"]]
    left = memories.recall(client.db, now=start + 2 * DAY_MS)["memories"]
    assert [m["id"] for m in left] == [slow["id"]]
    event = client.call("events_list", kinds=["memory.decayed"])["events"][0]
    assert event["payload"]["removed"] == [{"memory_id": fast["id"], "topic": "t"}]


def test_reinforcing_after_time_starts_from_the_decayed_value(client: caw_lab.Client) -> None:
    start = now_ms()
    memory = memories.create(client.db, topic="t", content="c", decay_rate=0.1, now=start)
    later = start + 7 * DAY_MS
    decayed = math.exp(-0.7)
    shown = memories.reinforce(client.db, memory["id"], now=later)
    assert shown["confidence"] == pytest.approx(decayed + (1 - decayed) / 2, rel=1e-6)
    assert shown["last_reinforced_at"] == later


def test_same_topic_and_content_reinforces_instead_of_duplicating(client: caw_lab.Client) -> None:
    first = client.call("memory_create", topic="db", content="WAL mode", confidence=0.5)
    again = client.call("memory_create", topic="db", content="WAL mode")
    assert again["id"] == first["id"] and again["reinforced"] and again["reinforcement_count"] == 2
    assert client.call("memory_recall")["total"] == 1


def test_recall_ranks_by_confidence_times_text_match(client: caw_lab.Client) -> None:
    client.call("memory_create", topic="sqlite", content="busy timeout avoids lock errors", confidence=0.9)
    client.call("memory_create", topic="sqlite locking", content="use WAL for concurrent readers", confidence=0.5)
    client.call("memory_create", topic="git", content="merge-tree checks conflicts", confidence=1.0)
    found = client.call("memory_recall", query="sqlite lock")["memories"]
    assert [m["topic"] for m in found] == ["sqlite", "sqlite locking"]
    assert [m["text_match"] for m in found] == [1.0, 1.0]
    assert found[0]["score"] == pytest.approx(0.9)
    partial = client.call("memory_recall", query="git conflicts rebase")["memories"]
    assert partial[0]["text_match"] == pytest.approx(2 / 3)
    assert client.call("memory_recall", query="sqlite", limit=1)["total"] == 2
    assert len(client.call("memory_recall", query="sqlite", limit=1)["memories"]) == 1


def test_recall_filters_by_topic_type_repository_and_confidence(client: caw_lab.Client, allowed_roots: Path) -> None:
    repo, other = allowed_roots / "repo", allowed_roots / "other"
    client.call("memory_create", topic="Build", content="make test", repository_path=str(repo))
    client.call("memory_create", topic="build", content="make lint", repository_path=str(other))
    client.call("memory_create", topic="build", content="global tip", memory_type="pitfall", confidence=0.3)
    in_repo = client.call("memory_recall", topic="BUILD", repository_path=str(repo))["memories"]
    assert sorted(m["content"] for m in in_repo) == ["global tip", "make test"]
    assert [m["content"] for m in client.call("memory_recall", memory_type="pitfall")["memories"]] == ["global tip"]
    assert client.call("memory_recall", min_confidence=0.5)["total"] == 2
    assert client.call("repository_get", path=str(repo))["path"] == str(repo)


def test_bad_values_are_refused_without_writing(client: caw_lab.Client) -> None:
    before = dump(client.db)
    for args in ({"topic": "t", "content": "c", "confidence": 1.5}, {"topic": "t", "content": "c", "memory_type": "x"},
                 {"topic": "", "content": "c"}, {"topic": "t", "content": "c", "decay_rate": -1}):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("memory_create", **args)
        assert info.value.code == "INVALID_INPUT"
    with pytest.raises(caw_lab.CawError) as info:
        client.call("memory_reinforce", id="mem_missing")
    assert info.value.code == "MEMORY_NOT_FOUND"
    assert dump(client.db) == before
