"""workflow_update_status: the workflow state machine over its whole table."""

from __future__ import annotations

import pytest

import caw_lab
from caw_lab.engine.states import WORKFLOW_STATUSES, WORKFLOW_TRANSITIONS
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow

PATH_TO: dict[str, list[str]] = {
    "ready": [],
    "in_progress": ["in_progress"],
    "paused": ["in_progress", "paused"],
    "awaiting_merge": ["in_progress", "awaiting_merge"],
    "failed": ["in_progress", "failed"],
    "completed": ["in_progress", "completed"],
    "abandoned": ["abandoned"],
}


def workflow_in(client: caw_lab.Client, state: str) -> str:
    """A workflow put into ``state`` through allowed moves only."""
    if state == "planning":
        return client.call("workflow_create", name="wf", source_type="prompt", source_content="x")["id"]
    workflow_id = make_workflow(client, [{"name": "a"}])["id"]
    for step in PATH_TO[state]:
        client.call("workflow_update_status", id=workflow_id, status=step)
    return workflow_id


ALL_PAIRS = [(src, dst) for src in WORKFLOW_STATUSES for dst in WORKFLOW_STATUSES]


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS, ids=[f"{s}->{d}" for s, d in ALL_PAIRS])
def test_every_transition_is_allowed_or_refused_as_the_table_says(client: caw_lab.Client, src: str, dst: str) -> None:
    workflow_id = workflow_in(client, src)
    assert client.call("workflow_get", id=workflow_id)["status"] == src
    before = dump(client.db)
    if dst in WORKFLOW_TRANSITIONS[src]:
        result = client.call("workflow_update_status", id=workflow_id, status=dst, reason="test")
        assert result["success"] is True
        assert client.call("workflow_get", id=workflow_id)["status"] == dst
        event = client.call("events_list", workflow_id=workflow_id, kinds=["workflow.status"])["events"][-1]
        assert (event["payload"]["from"], event["payload"]["to"]) == (src, dst)
    else:
        with pytest.raises(CawError) as refused:
            client.call("workflow_update_status", id=workflow_id, status=dst)
        assert refused.value.code == "INVALID_TRANSITION"
        assert refused.value.recoverable is False
        assert dump(client.db) == before


def test_final_states_say_so(client: caw_lab.Client) -> None:
    workflow_id = workflow_in(client, "completed")
    with pytest.raises(CawError) as refused:
        client.call("workflow_update_status", id=workflow_id, status="in_progress")
    assert "final state" in refused.value.suggestion


def test_an_unknown_status_is_bad_input(client: caw_lab.Client) -> None:
    workflow_id = workflow_in(client, "ready")
    with pytest.raises(CawError) as refused:
        client.call("workflow_update_status", id=workflow_id, status="done")
    assert refused.value.code == "INVALID_INPUT"
