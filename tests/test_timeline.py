"""The timeline's data: bars rebuilt from the change feed, lanes by agent, durations, live
updates, and the durations the DAG widget shows, on a real database."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.lab.dag_widget import DagWidget
from caw_lab.lab.timeline import Timeline, read_history
from caw_lab.lab.timeline_widget import TimelineWidget
from tests.conftest import make_workflow

PLAN = [{"name": "schema"}, {"name": "api", "depends_on": ["schema"]}, {"name": "ui"}, {"name": "docs"},
        {"name": "notes"}]


def agent(client: caw_lab.Client, name: str) -> str:
    return client.call("agent_register", name=name, runtime="custom")["id"]


def move(client: caw_lab.Client, task_id: str, *statuses: str) -> None:
    for status in statuses:
        extra = {"outcome": "done"} if status == "completed" else {"error": "broke"} if status == "failed" else {}
        client.call("task_update_status", id=task_id, status=status, **extra)


def at(client: caw_lab.Client, task_id: str, kind: str, to: str | None = None) -> int:
    """When the last ``kind`` event of ``task_id`` (moving it ``to``, for task.status) happened."""
    events = client.call("events_list", task_id=task_id, kinds=[kind])["events"]
    return [e for e in events if to is None or e["payload"].get("to") == to][-1]["at"]


@pytest.fixture
def worked(client: caw_lab.Client) -> dict[str, Any]:
    """Ada completes schema, Bo fails ui, Ada then starts api and is still on it; docs and notes untouched."""
    wf = make_workflow(client, PLAN, name="timeline", max_parallel_tasks=4)
    t = wf["tasks"]
    ada, bo = agent(client, "ada"), agent(client, "bo")
    client.call("task_claim", task_id=t["schema"], agent_id=ada)
    client.call("task_claim", task_id=t["ui"], agent_id=bo)
    move(client, t["schema"], "planning", "in_progress", "completed")
    move(client, t["ui"], "planning", "in_progress", "failed")
    client.call("task_claim", task_id=t["api"], agent_id=ada)
    move(client, t["api"], "planning")
    return {**wf, "ada": ada, "bo": bo}


def test_bars_run_from_claim_to_settling_in_their_agents_lanes(client: caw_lab.Client, worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    widget = TimelineWidget(client, worked["id"], live=False)
    bars = widget.bars
    assert bars["names"] == ["schema", "ui", "api"], "one bar per attempt, in start order; untouched tasks have none"
    assert bars["statuses"] == ["completed", "failed", "planning"]
    assert bars["lane_names"] == ["ada", "bo"]
    assert bars["lanes"] == [0, 1, 0] and bars["rows"] == [0, 0, 0] and bars["lane_rows"] == [1, 1]
    assert bars["agents"] == [worked["ada"], worked["bo"], worked["ada"]]
    assert bars["starts"] == [at(client, t[n], "task.claimed") for n in ("schema", "ui", "api")]
    assert bars["ends"] == [at(client, t["schema"], "task.status", "completed"),
                            at(client, t["ui"], "task.status", "failed"), 0], "a running bar has no end yet"
    assert widget.timeline.durations() == {
        t["schema"]: bars["ends"][0] - bars["starts"][0], t["ui"]: bars["ends"][1] - bars["starts"][1]}
    assert widget.now >= bars["starts"][2]
    widget.close()


def test_the_widget_follows_the_feed_and_a_retry_is_a_second_bar(client: caw_lab.Client,
                                                                  worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    widget = TimelineWidget(client, worked["id"], live=False)
    move(client, t["api"], "in_progress", "completed")
    move(client, t["ui"], "pending")
    client.call("task_claim", task_id=t["ui"], agent_id=worked["ada"])
    move(client, t["ui"], "planning", "completed")
    widget.refresh()
    bars = widget.bars
    assert bars["names"] == ["schema", "ui", "api", "ui"]
    assert bars["statuses"] == ["completed", "failed", "completed", "completed"]
    assert bars["lanes"] == [0, 1, 0, 0]
    assert 0 not in bars["ends"]
    second_ui = bars["ends"][3] - bars["starts"][3]
    assert widget.timeline.durations()[t["ui"]] == second_ui, "a task's duration is its last attempt's"
    widget.close()


def test_a_release_ends_the_attempt_and_the_next_claim_starts_another(client: caw_lab.Client,
                                                                      worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    client.call("task_release", task_id=t["api"], agent_id=worked["ada"])
    client.call("task_claim", task_id=t["api"], agent_id=worked["bo"])
    timeline = Timeline(worked["id"])
    read_history(client, timeline, client.call("events_list", limit=1)["head"])
    api = [b for b in timeline.bars if b.task_id == t["api"]]
    assert [(b.agent, b.released, b.end is None) for b in api] == [(worked["ada"], True, False),
                                                                   (worked["bo"], False, True)]
    assert t["api"] not in timeline.durations(), "an attempt given back is not the task's duration"


def test_work_no_agent_held_shares_a_last_lane_with_overlapping_bars_in_rows(client: caw_lab.Client,
                                                                            worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    move(client, t["docs"], "planning")
    move(client, t["notes"], "planning", "completed")
    move(client, t["docs"], "completed")
    columns = TimelineWidget(client, worked["id"], live=False).bars
    assert columns["lane_names"] == ["ada", "bo", ""]
    assert columns["names"][3:] == ["docs", "notes"]
    assert columns["lanes"][3:] == [2, 2]
    assert columns["rows"][3:] == [0, 1], "notes ran while docs did: a second row, not on top of it"
    assert columns["lane_rows"] == [1, 1, 2]


def test_another_workflows_events_and_old_events_change_nothing(client: caw_lab.Client,
                                                                 worked: dict[str, Any]) -> None:
    other = make_workflow(client, [{"name": "x"}], name="other")
    move(client, other["tasks"]["x"], "planning", "completed")
    timeline = Timeline(worked["id"])
    events = client.call("events_list", limit=1000)["events"]
    assert timeline.apply(events)
    before = [(b.task_id, b.start, b.end) for b in timeline.bars]
    assert not timeline.apply(events), "events already applied are skipped"
    assert [b for b in before if b[0] == other["tasks"]["x"]] == []
    assert len(before) == 3


def test_an_unknown_workflow_is_refused(client: caw_lab.Client) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        TimelineWidget(client, "wf_000000000000", live=False)
    assert info.value.code == "WORKFLOW_NOT_FOUND"


def test_the_dag_widget_carries_each_finished_tasks_duration(client: caw_lab.Client, worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    widget = DagWidget(client, worked["id"], live=False)
    durations = dict(zip(widget.tasks["ids"], widget.tasks["durations"], strict=True))
    expected = TimelineWidget(client, worked["id"], live=False).timeline.durations()
    assert durations == {**dict.fromkeys(t.values(), 0), **expected}
    sent: list[dict[str, Any]] = []
    widget.views = 1
    widget.send = sent.append  # type: ignore[method-assign]
    move(client, t["api"], "in_progress", "completed")
    widget.refresh()
    (delta,) = sent
    row = delta["upsert"]["ids"].index(t["api"])
    api_took = at(client, t["api"], "task.status", "completed") - at(client, t["api"], "task.claimed")
    assert delta["upsert"]["durations"][row] == api_took
    widget.close()


def test_the_workbench_shows_the_timeline_beside_the_graph_with_one_selection(client: caw_lab.Client,
                                                                              worked: dict[str, Any]) -> None:
    t = worked["tasks"]
    bench = caw_lab.Workbench(client, worked["id"], live=False)
    assert bench.timeline is not None and bench.graph is not None
    assert bench.timeline.bars["names"] == ["schema", "ui", "api"]
    bench.timeline.selected = t["ui"]
    assert bench.task_id == t["ui"] and bench.graph.selected == t["ui"], "a bar clicked selects the task everywhere"
    bench.graph.selected = t["api"]
    assert bench.timeline.selected == t["api"]
    move(client, t["api"], "in_progress", "completed")
    bench.refresh()
    assert bench.timeline.bars["statuses"][2] == "completed", "the Workbench's one feed moves the timeline too"
    bench.close()
