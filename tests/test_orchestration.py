"""workflow_next_tasks, workflow_progress, task_check_dependencies."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from tests.conftest import make_workflow


def move(client: caw_lab.Client, task_id: str, *steps: str) -> None:
    for step in steps:
        client.call("task_update_status", id=task_id, status=step, outcome="done", error="broke")


def next_tasks(client: caw_lab.Client, workflow_id: str, **params: Any) -> dict[str, Any]:
    return client.call("workflow_next_tasks", workflow_id=workflow_id, **params)


def names(result: dict[str, Any], recommended_only: bool = False) -> list[str]:
    return [t["name"] for t in result["tasks"] if t["recommended"] or not recommended_only]


DIAMOND = [
    {"name": "base"},
    {"name": "left", "depends_on": ["base"], "parallel_group": "sides"},
    {"name": "right", "depends_on": ["base"], "parallel_group": "sides"},
    {"name": "top", "depends_on": ["left", "right"]},
]


def test_only_pending_unblocked_unclaimed_tasks_are_eligible(client: caw_lab.Client) -> None:
    more = [{"name": "solo"}, {"name": "claimed"}, {"name": "started"}]
    wf = make_workflow(client, [*DIAMOND, *more], max_parallel_tasks=9)
    t = wf["tasks"]
    agent = client.call("agent_register", name="w", runtime="custom")["id"]
    client.call("task_claim", task_id=t["claimed"], agent_id=agent)
    move(client, t["started"], "planning")
    assert names(next_tasks(client, wf["id"])) == ["base", "solo"]
    move(client, t["base"], "planning", "completed")
    result = next_tasks(client, wf["id"])
    assert names(result) == ["left", "right", "solo"]
    left = result["tasks"][0]
    assert (left["id"], left["description"], left["can_parallelize"]) == (t["left"], None, True)
    assert left["parallel_with"] == (t["right"],)
    assert left["dependencies_completed"] == ("base",)
    assert (result["tasks"][2]["can_parallelize"], result["tasks"][2]["parallel_with"]) == (False, ())


def test_failed_tasks_are_offered_for_retry_unless_excluded(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=5)
    move(client, wf["tasks"]["a"], "planning", "in_progress", "failed")
    assert names(next_tasks(client, wf["id"])) == ["a", "b"]
    assert names(next_tasks(client, wf["id"], include_failed=False)) == ["b"]


@pytest.mark.parametrize(
    ("max_parallel", "active", "expected"), [(1, 0, 1), (3, 0, 3), (3, 1, 2), (3, 3, 0), (2, 3, 0)]
)
def test_recommendation_fills_only_the_free_slots(
    client: caw_lab.Client, max_parallel: int, active: int, expected: int
) -> None:
    wf = make_workflow(client, [{"name": f"t{i}"} for i in range(8)], max_parallel_tasks=max_parallel)
    for i in range(active):
        move(client, wf["tasks"][f"t{i}"], "planning")
    result = next_tasks(client, wf["id"])
    assert len(result["tasks"]) == 8 - active
    counts = (result["max_parallel"], result["active_count"], result["recommended_count"])
    assert counts == (max_parallel, active, expected)
    assert names(result, recommended_only=True) == names(result)[:expected]


def test_a_claimed_task_takes_a_slot_before_it_starts(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}, {"name": "c"}], max_parallel_tasks=2)
    agent = client.call("agent_register", name="w", runtime="custom")["id"]
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=agent)
    result = next_tasks(client, wf["id"])
    assert (names(result), result["active_count"], result["recommended_count"]) == (["b", "c"], 1, 1)


def test_a_parallel_group_is_recommended_together(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "lint", "parallel_group": "checks"},
        {"name": "docs"},
        {"name": "types", "parallel_group": "checks"},
        {"name": "tests", "parallel_group": "checks"},
        {"name": "build"},
    ], max_parallel_tasks=3)
    result = next_tasks(client, wf["id"])
    assert names(result) == ["lint", "types", "tests", "docs", "build"]
    assert names(result, recommended_only=True) == ["lint", "types", "tests"]
    lint = result["tasks"][0]
    assert sorted(lint["parallel_with"]) == sorted([wf["tasks"]["types"], wf["tasks"]["tests"]])


def test_a_group_larger_than_the_free_slots_is_cut_in_plan_order(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "docs"},
        {"name": "a", "parallel_group": "g"},
        {"name": "b", "parallel_group": "g"},
        {"name": "c", "parallel_group": "g"},
    ], max_parallel_tasks=3)
    assert names(next_tasks(client, wf["id"]), recommended_only=True) == ["docs", "a", "b"]


@pytest.mark.parametrize("status", ["paused", "abandoned"])
def test_a_workflow_that_is_not_running_recommends_nothing(client: caw_lab.Client, status: str) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    if status == "paused":
        client.call("workflow_update_status", id=wf["id"], status="in_progress")
    client.call("workflow_update_status", id=wf["id"], status=status)
    result = next_tasks(client, wf["id"])
    assert (names(result), result["recommended_count"], result["workflow_status"]) == (["a", "b"], 0, status)


def test_all_complete_when_every_task_is_done(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    move(client, wf["tasks"]["a"], "planning", "completed")
    assert next_tasks(client, wf["id"])["all_complete"] is False
    move(client, wf["tasks"]["b"], "planning", "in_progress", "failed", "skipped")
    result = next_tasks(client, wf["id"])
    assert (result["tasks"], result["all_complete"], result["workflow_status"]) == ([], True, "completed")


def test_unknown_ids_are_not_found(client: caw_lab.Client) -> None:
    for tool, params, code in [
        ("workflow_next_tasks", {"workflow_id": "wf_000000000000"}, "WORKFLOW_NOT_FOUND"),
        ("workflow_progress", {"workflow_id": "wf_000000000000"}, "WORKFLOW_NOT_FOUND"),
        ("task_check_dependencies", {"task_id": "tk_000000000000"}, "TASK_NOT_FOUND"),
    ]:
        with pytest.raises(CawError) as refused:
            client.call(tool, **params)
        assert refused.value.code == code


def test_progress_counts_every_status_with_blocked_computed(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["a", "b"]},
        {"name": "d"}, {"name": "e"}, {"name": "f"},
    ])
    t = wf["tasks"]
    move(client, t["d"], "planning", "in_progress", "paused")
    move(client, t["e"], "planning", "in_progress", "failed")
    move(client, t["f"], "planning")
    progress = client.call("workflow_progress", workflow_id=wf["id"])
    assert progress["total_tasks"] == 6
    assert progress["by_status"] == {"pending": 1, "blocked": 2, "planning": 1, "in_progress": 0, "paused": 1,
                                     "failed": 1, "completed": 0, "skipped": 0}
    assert progress["blocked_tasks"] == [
        {"id": t["b"], "name": "b", "blocked_by": ("a",)},
        {"id": t["c"], "name": "c", "blocked_by": ("a", "b")},
    ]
    assert progress["estimated_remaining"] == 6
    move(client, t["a"], "planning", "completed")
    progress = client.call("workflow_progress", workflow_id=wf["id"])
    by_status = progress["by_status"]
    assert (by_status["pending"], by_status["blocked"], by_status["completed"]) == (1, 1, 1)
    assert progress["blocked_tasks"] == [{"id": t["c"], "name": "c", "blocked_by": ("b",)}]
    assert progress["estimated_remaining"] == 5


def test_progress_sequences_follow_the_first_unfinished_task(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": f"t{i}"} for i in range(1, 5)])
    t = wf["tasks"]

    def sequences() -> tuple[int, int]:
        progress = client.call("workflow_progress", workflow_id=wf["id"])
        return progress["completed_sequence"], progress["current_sequence"]

    assert sequences() == (0, 1)
    move(client, t["t2"], "planning", "completed")
    assert sequences() == (0, 1)
    move(client, t["t1"], "planning", "completed")
    assert sequences() == (2, 3)
    move(client, t["t3"], "planning", "completed")
    move(client, t["t4"], "planning", "completed")
    assert sequences() == (4, 0)


def test_progress_reports_parallel_groups(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "a", "parallel_group": "first"}, {"name": "b", "parallel_group": "first"},
        {"name": "c", "parallel_group": "second"}, {"name": "d"},
    ])
    move(client, wf["tasks"]["b"], "planning", "completed")
    assert client.call("workflow_progress", workflow_id=wf["id"])["parallel_groups"] == [
        {"group_id": "first", "task_count": 2, "completed": 1},
        {"group_id": "second", "task_count": 1, "completed": 0},
    ]


def test_an_empty_workflow_has_empty_progress(client: caw_lab.Client) -> None:
    workflow_id = client.call("workflow_create", name="wf", source_type="prompt", source_content="x")["id"]
    progress = client.call("workflow_progress", workflow_id=workflow_id)
    assert (progress["total_tasks"], progress["completed_sequence"], progress["current_sequence"]) == (0, 0, 0)
    assert set(progress["by_status"].values()) == {0}
    result = next_tasks(client, workflow_id)
    assert (result["tasks"], result["recommended_count"], result["all_complete"]) == ([], 0, False)


def test_check_dependencies_splits_finished_from_waiting(client: caw_lab.Client) -> None:
    wf = make_workflow(client, DIAMOND)
    t = wf["tasks"]
    free = client.call("task_check_dependencies", task_id=t["base"])
    assert free == {"satisfied": True, "pending": [], "completed": []}
    move(client, t["base"], "planning", "completed")
    move(client, t["left"], "planning")
    client.call("task_update_status", id=t["left"], status="completed", outcome="left built")
    assert client.call("task_check_dependencies", task_id=t["top"]) == {
        "satisfied": False,
        "pending": [{"id": t["right"], "name": "right", "status": "pending"}],
        "completed": [{"id": t["left"], "name": "left", "outcome": "left built"}],
    }
    move(client, t["right"], "planning", "completed")
    assert client.call("task_check_dependencies", task_id=t["top"])["satisfied"] is True


def test_a_whole_run_works_on_d1(d1_client: caw_lab.Client) -> None:
    """The gated auto-transitions, in-batch checkpoint numbering and set-based queries on Cloudflare D1."""
    wf = make_workflow(d1_client, DIAMOND, max_parallel_tasks=2)
    t = wf["tasks"]
    assert names(next_tasks(d1_client, wf["id"])) == ["base"]
    move(d1_client, t["base"], "planning")
    assert d1_client.call("workflow_get", id=wf["id"])["status"] == "in_progress"
    assert [d1_client.call("checkpoint_add", task_id=t["base"], type="progress", summary=str(i))["sequence"]
            for i in range(3)] == [1, 2, 3]
    move(d1_client, t["base"], "completed")
    assert names(next_tasks(d1_client, wf["id"]), recommended_only=True) == ["left", "right"]
    assert d1_client.call("workflow_progress", workflow_id=wf["id"])["blocked_tasks"] == [
        {"id": t["top"], "name": "top", "blocked_by": ("left", "right")}]
    for name in ("left", "right", "top"):
        move(d1_client, t[name], "planning", "completed")
    assert d1_client.call("workflow_get", id=wf["id"])["status"] == "completed"
    assert next_tasks(d1_client, wf["id"])["all_complete"] is True
