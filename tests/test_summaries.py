"""Source summaries: the source compressed to its requirements, once per text, and loading writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.context import compression, loader
from caw_lab.store.backend import reads

SOURCE = (
    "Export workflows\n\n"
    + "Background prose that explains the history at length. " * 40
    + ("\nThe export must write one JSON file per workflow.\n- include checkpoints\n- keep ids stable")
)


def workflow_with(client: caw_lab.Client, source: str) -> str:
    """A planned workflow with ``source``; returns the id of its one task."""
    created = client.call("workflow_create", name="wf", source_type="prompt", source_content=source)
    plan = client.call("workflow_set_plan", id=created["id"], plan={"summary": "s", "tasks": [{"name": "export"}]})
    return plan["tasks"][0]["id"]


@pytest.fixture
def compressions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts ``compression.source_summary`` is asked to compress from now on, with nothing kept before."""
    asked: list[str] = []
    real = compression.source_summary

    def counted(text: str | None) -> str | None:
        asked.append(text or "")
        return real(text)

    monkeypatch.setattr(compression, "source_summary", counted)
    loader.SUMMARIES.clear()
    return asked


def test_the_summary_keeps_the_requirements_and_drops_the_prose(client: caw_lab.Client) -> None:
    summary = client.call("task_load_context", task_id=workflow_with(client, SOURCE))["workflow"]["source_summary"]
    assert summary == compression.source_summary(SOURCE)
    assert "Background prose" not in summary and "- keep ids stable" in summary
    assert "must write one JSON file" in summary


def test_loading_writes_nothing_to_the_database(client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write goes through the backend's batch: a load, a delta and a summary call send none
    (their independent reads go out as a batch too, one of reads alone)."""
    task_id = workflow_with(client, SOURCE)
    writes: list[Any] = []
    real = client.db.batch

    def spied(statements: Any) -> Any:
        writes.extend(s.sql for s in statements if not reads(s.sql))
        return real(statements)

    monkeypatch.setattr(client.db, "batch", spied)
    loaded = client.call("task_load_context", task_id=task_id)
    client.call("task_load_context", task_id=task_id, since_seq=1, max_tokens=900)
    client.call("workflow_get_summary", id=client.call("task_get", id=task_id)["workflow_id"])
    assert writes == []
    assert loaded["cursor"] == client.call("events_list", since_seq=0, limit=1000)["cursor"], "no event either"


def test_a_source_is_compressed_once_and_a_changed_one_again(client: caw_lab.Client, compressions: list[str]) -> None:
    task_id = workflow_with(client, SOURCE)
    first = client.call("task_load_context", task_id=task_id)
    client.call("checkpoint_add", task_id=task_id, type="progress", summary="a write moves the feed head")
    again = client.call("task_load_context", task_id=task_id)
    assert compressions == [SOURCE], "the second load found the summary kept"
    assert again["workflow"]["source_summary"] == first["workflow"]["source_summary"]

    changed = SOURCE + "\nIt should also export memories."
    other = client.call("task_load_context", task_id=workflow_with(client, changed))
    assert compressions == [SOURCE, changed]
    assert "It should also export memories." in other["workflow"]["source_summary"]


def test_empty_sources_have_no_summary(client: caw_lab.Client) -> None:
    assert "source_summary" not in client.call("task_load_context", task_id=workflow_with(client, " "))["workflow"]
    assert loader.source_summary("") is None and loader.source_summary(None) is None
