"""Cached source summaries: keyed by content hash and compressor version, no events, counts kept."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.context import answers, compression, summaries, tokens
from caw_lab.store.backend import Statement

SOURCE = "Export workflows\n\n" + "Background prose that explains the history at length. " * 40 + (
    "\nThe export must write one JSON file per workflow.\n- include checkpoints\n- keep ids stable"
)


def rows(client: caw_lab.Client) -> list[dict[str, Any]]:
    return client.db.query("SELECT * FROM context_summaries ORDER BY created_at")


def events(client: caw_lab.Client) -> int:
    return client.db.scalar("SELECT COUNT(*) FROM events")


@pytest.fixture
def task_id(client: caw_lab.Client) -> str:
    created = client.call("workflow_create", name="wf", source_type="prompt", source_content=SOURCE)
    plan = client.call("workflow_set_plan", id=created["id"], plan={"summary": "s", "tasks": [{"name": "export"}]})
    return plan["tasks"][0]["id"]


def test_a_load_caches_the_summary_once_and_writes_no_event(client: caw_lab.Client, task_id: str) -> None:
    before = events(client)
    first = client.call("task_load_context", task_id=task_id)
    again = client.call("task_load_context", task_id=task_id)
    assert events(client) == before
    [row] = rows(client)
    assert row["summary"] == first["workflow"]["source_summary"] == again["workflow"]["source_summary"]
    assert "Background prose" not in row["summary"] and "- keep ids stable" in row["summary"]
    assert row["content_hash"] == summaries.content_hash(SOURCE)
    assert (row["compressor_version"], row["tokens"]) == (compression.VERSION, tokens.count(row["summary"]))


def test_a_cached_summary_is_read_not_recomputed(client: caw_lab.Client, task_id: str) -> None:
    client.call("task_load_context", task_id=task_id)
    client.db.batch([Statement("UPDATE context_summaries SET summary = 'from the cache', tokens = 3")])
    answers.clear()  # else the same question at the same head gets its first answer back
    assert client.call("task_load_context", task_id=task_id)["workflow"]["source_summary"] == "from the cache"


def test_a_cached_count_is_not_tokenized_again(client: caw_lab.Client, task_id: str) -> None:
    client.call("task_load_context", task_id=task_id)
    tokens._counter.cache_clear()
    try:
        summary = summaries.source_summary(client.db, SOURCE)
        enc = tokens.counter()
        assert enc.count(summary) == rows(client)[0]["tokens"]
        assert enc.encoded == 0
    finally:
        tokens._counter.cache_clear()


def test_a_changed_source_or_compressor_misses(client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    summaries.source_summary(client.db, SOURCE)
    summaries.source_summary(client.db, SOURCE + "\nIt should also export memories.")
    assert len(rows(client)) == 2
    monkeypatch.setattr(compression, "VERSION", compression.VERSION + 1)
    summaries.source_summary(client.db, SOURCE)
    versions = sorted(r["compressor_version"] for r in rows(client))
    assert versions == [compression.VERSION - 1] * 2 + [compression.VERSION]
    assert summaries.prune(client.db) == 2
    assert [r["compressor_version"] for r in rows(client)] == [compression.VERSION]


def test_empty_sources_are_not_cached(client: caw_lab.Client) -> None:
    assert summaries.source_summary(client.db, "") is None
    assert summaries.source_summary(client.db, None) is None
    assert rows(client) == []
