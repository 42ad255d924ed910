"""Delta loading: since_seq returns only what changed after that event, and the new cursor."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.context.tokens import count_json
from tests.conftest import make_workflow


def advance(client: caw_lab.Client, task_id: str, *statuses: str, **extra: Any) -> None:
    for status in statuses:
        client.call("task_update_status", id=task_id, status=status, **(extra if status == "completed" else {}))


@pytest.fixture
def work(client: caw_lab.Client) -> dict[str, str]:
    wf = make_workflow(client, [
        {"name": "base", "description": "Core data layer"},
        {"name": "side", "description": "Unrelated docs", "parallel_group": "g"},
        {"name": "main", "description": "Feature on the data layer", "depends_on": ["base"], "parallel_group": "g"},
    ])
    t = wf["tasks"]
    advance(client, t["base"], "planning", "in_progress", "completed", outcome="Data layer in core/db.py")
    advance(client, t["main"], "planning", "in_progress")
    for i in range(12):
        client.call("checkpoint_add", task_id=t["main"], type="progress", summary=f"step {i} " + "words " * 30,
                    detail={"notes": "detail " * 40}, files_changed=[f"core/f{i}.py"])
    return {**t, "workflow": wf["id"]}


def test_a_reload_after_two_checkpoints_is_a_small_delta(client: caw_lab.Client, work: dict[str, str]) -> None:
    full = client.call("task_load_context", task_id=work["main"])
    for i in (12, 13):
        client.call("checkpoint_add", task_id=work["main"], type="progress", summary=f"step {i}")
    delta = client.call("task_load_context", task_id=work["main"], since_seq=full["cursor"])
    assert delta["delta"] is True and delta["since_seq"] == full["cursor"]
    assert [c["sequence"] for c in delta["current_task"]["checkpoints"]] == [13, 14]
    assert delta["workflow"] is None and delta["prior_tasks"] == [] and delta["dependency_outcomes"] == []
    assert delta["cursor"] == client.call("events_list", since_seq=0)["head"] > full["cursor"]
    assert delta["token_estimate"] == count_json(delta)
    assert delta["token_estimate"] * 8 < full["token_estimate"]


def test_nothing_changed_is_an_empty_delta(client: caw_lab.Client, work: dict[str, str]) -> None:
    full = client.call("task_load_context", task_id=work["main"])
    delta = client.call("task_load_context", task_id=work["main"], since_seq=full["cursor"])
    assert delta["current_task"] is None and delta["workflow"] is None and delta["sibling_tasks"] == []
    assert delta["cursor"] == full["cursor"]
    ahead = client.call("task_load_context", task_id=work["main"], since_seq=full["cursor"] + 100)
    assert ahead["current_task"] is None


def test_changes_of_other_tasks_and_the_workflow_show(client: caw_lab.Client, work: dict[str, str]) -> None:
    cursor = client.call("task_load_context", task_id=work["main"])["cursor"]
    advance(client, work["side"], "planning", "in_progress", "completed", outcome="Docs written")
    client.call("workflow_set_config", id=work["workflow"], config={"note": "x"})
    delta = client.call("task_load_context", task_id=work["main"], since_seq=cursor)
    assert [s["outcome"] for s in delta["sibling_tasks"]] == ["Docs written"]
    assert delta["workflow"]["id"] == work["workflow"]
    assert delta["current_task"] is None


def test_the_current_tasks_own_change_brings_its_fields(client: caw_lab.Client, work: dict[str, str]) -> None:
    cursor = client.call("task_load_context", task_id=work["main"])["cursor"]
    advance(client, work["main"], "completed", outcome="Feature done")
    delta = client.call("task_load_context", task_id=work["main"], since_seq=cursor)
    assert delta["current_task"]["status"] == "completed"
    assert "checkpoints" not in delta["current_task"]


def test_a_delta_respects_the_budget(client: caw_lab.Client, work: dict[str, str]) -> None:
    for _ in range(3):
        client.call("checkpoint_add", task_id=work["main"], type="progress", summary="more " * 200)
    delta = client.call("task_load_context", task_id=work["main"], since_seq=1, max_tokens=500)
    assert delta["token_estimate"] == count_json(delta) <= 500
    assert delta["omitted"]["checkpoints"] > 0
