"""Parity with the reference server: the codes, ``recoverable`` flags, result fields and state
changes its own tests pin down, so an agent written against it branches the same way here.

Each refusal is checked with ``dump`` before and after: a refused call writes nothing.
Deliberate differences are listed in docs/compatibility.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

pytestmark = pytest.mark.usefixtures("allowed_roots")

Setup = Callable[[caw_lab.Client, Path], tuple[str, dict[str, Any]]]


def refusal(client: caw_lab.Client, tool: str, **args: Any) -> caw_lab.CawError:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert dump(client.db) == before, f"{tool} wrote something while refusing"
    return info.value


def agent(client: caw_lab.Client, name: str = "w") -> str:
    return client.call("agent_register", name=name, runtime="claude_code")["id"]


def planning(client: caw_lab.Client) -> str:
    return client.call("workflow_create", name="wf", source_type="prompt", source_content="x")["id"]


def plan_call(tasks: list[dict[str, Any]]) -> Setup:
    return lambda c, _: ("workflow_set_plan", {"id": planning(c), "plan": {"summary": "s", "tasks": tasks}})


def task_at(client: caw_lab.Client, *path: str) -> str:
    """A task of a fresh running workflow walked through ``path`` of statuses."""
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    task = wf["tasks"]["a"]
    for status in path:  # pending -> planning -> in_progress, as the reference requires
        extra = {"outcome": "done"} if status == "completed" else {}
        client.call("task_update_status", id=task, status=status, **extra)
    return task


def completed_replan(client: caw_lab.Client, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """A running workflow whose first task ("Setup") is completed, and the replan call on it."""
    wf = make_workflow(client, [{"name": "Setup"}, {"name": "Build"}])
    client.call("task_update_status", id=wf["tasks"]["Setup"], status="planning")
    client.call("task_update_status", id=wf["tasks"]["Setup"], status="in_progress")
    client.call("task_update_status", id=wf["tasks"]["Setup"], status="completed", outcome="ok")
    return {"workflow_id": wf["id"], "plan": {"summary": "v2", "reason": "r", "tasks": tasks}}


def unclaimed_release(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    return "task_release", {"task_id": task_at(c), "agent_id": agent(c)}


def others_release(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    task, holder = task_at(c), agent(c, "holder")
    c.call("task_claim", task_id=task, agent_id=holder)
    return "task_release", {"task_id": task, "agent_id": agent(c, "other")}


def offline_heartbeat(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    a = agent(c)
    c.call("agent_unregister", id=a)
    return "agent_heartbeat", {"agent_id": a}


def message(sender: bool, recipient: bool, **extra: Any) -> Setup:
    def setup(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
        return "message_send", {"sender_id": agent(c, "s") if sender else "ag_missing",
                                "recipient_id": agent(c, "r") if recipient else "ag_missing",
                                "message_type": "query", "body": "hello", **extra}
    return setup


def repository_in_use(c: caw_lab.Client, root: Path) -> tuple[str, dict[str, Any]]:
    wf = make_workflow(c, [{"name": "Task", "repository_path": str(root / "backend")}])
    repo = c.call("workflow_list_repositories", workflow_id=wf["id"])["repositories"][0]
    return "workflow_remove_repository", {"workflow_id": wf["id"], "repository_id": repo["id"]}


def duplicate_template(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    c.call("template_create", name="t", template={"tasks": [{"name": "a"}]})
    return "template_create", {"name": "t", "template": {"tasks": [{"name": "b"}]}}


def missing_variables(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    made = c.call("template_create", name="t", template={"tasks": [{"name": "fix {{thing}}"}], "variables": ["thing"]})
    return "template_apply", {"template_id": made["id"], "workflow_name": "w"}


def workspace(c: caw_lab.Client, root: Path) -> tuple[str, str]:
    wf = make_workflow(c, [{"name": "a"}])
    made = c.call("workspace_create", workflow_id=wf["id"], branch="b", path=str(root / "ws"))
    return made["id"], wf["tasks"]["a"]


def merge_without_commit(c: caw_lab.Client, root: Path) -> tuple[str, dict[str, Any]]:
    return "workspace_update", {"id": workspace(c, root)[0], "status": "merged"}


def assign_to_inactive(c: caw_lab.Client, root: Path) -> tuple[str, dict[str, Any]]:
    ws, task = workspace(c, root)
    c.call("workspace_update", id=ws, status="abandoned")
    return "task_assign_workspace", {"task_id": task, "workspace_id": ws}


def unlock_by_other(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    wf = planning(c)
    c.call("workflow_lock", id=wf, session_id="ss_a")
    return "workflow_unlock", {"id": wf, "session_id": "ss_b"}


def bad_transition(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    return "workflow_update_status", {"id": planning(c), "status": "completed"}


def replan_task(*path: str) -> Setup:
    return lambda c, _: ("task_replan", {"id": task_at(c, *path), "reason": "r",
                                         "new_plan": {"approach": "again", "steps": ["x"]}})


def add_task(**args: Any) -> Setup:
    def setup(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
        wf = make_workflow(c, [{"name": "a"}, {"name": "b"}])
        return "workflow_add_task", {"workflow_id": wf["id"], **args}
    return setup


def blocked_move(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    wf = make_workflow(c, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    return "task_update_status", {"id": wf["tasks"]["b"], "status": "planning"}


def preserved_name(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    return "workflow_replan", completed_replan(c, [{"name": "Setup"}])


def removing_started(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    task = task_at(c, "planning", "in_progress")
    workflow_id = c.call("task_get", id=task)["workflow_id"]
    return "workflow_remove_task", {"workflow_id": workflow_id, "task_id": task}


def replan_while_planning(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    return "workflow_replan", {"workflow_id": planning(c), "plan": {"summary": "s", "reason": "r", "tasks": []}}


def claim_completed(c: caw_lab.Client, _: Path) -> tuple[str, dict[str, Any]]:
    return "task_claim", {"task_id": task_at(c, "planning", "in_progress", "completed"), "agent_id": agent(c)}


def fixed(tool: str, **args: Any) -> Setup:
    return lambda c, _: (tool, args)


CASES: dict[str, tuple[Setup, str, bool]] = {
    # workflow plans
    "plan: duplicate name": (plan_call([{"name": "a"}, {"name": "a"}]), "DUPLICATE_TASK_NAME", True),
    "plan: self dependency": (plan_call([{"name": "a", "depends_on": ["a"]}]), "SELF_DEPENDENCY", True),
    "plan: unknown dependency": (plan_call([{"name": "a", "depends_on": ["x"]}]), "UNKNOWN_DEPENDENCY", True),
    "plan: unknown workflow": (fixed("workflow_set_plan", id="wf_missing", plan={"summary": "s", "tasks": []}),
                               "WORKFLOW_NOT_FOUND", False),
    "workflow: bad transition": (bad_transition, "INVALID_TRANSITION", False),
    "workflow: unknown": (fixed("workflow_get", id="wf_missing"), "WORKFLOW_NOT_FOUND", False),
    "workflow: unlock by another session": (unlock_by_other, "WORKFLOW_LOCKED", True),
    "repository: in use": (repository_in_use, "REPOSITORY_IN_USE", False),
    "repository: add to unknown workflow": (fixed("workflow_add_repository", workflow_id="wf_missing",
                                                  repository_path="/tmp"), "WORKFLOW_NOT_FOUND", False),
    # tasks
    "task: unknown": (fixed("task_get", id="tk_missing"), "TASK_NOT_FOUND", False),
    "task: complete without outcome": (lambda c, _: ("task_update_status", {
        "id": task_at(c, "planning", "in_progress"), "status": "completed"}), "MISSING_OUTCOME", True),
    "task: fail without error": (lambda c, _: ("task_update_status", {
        "id": task_at(c, "planning", "in_progress"), "status": "failed"}), "MISSING_ERROR", True),
    "task: bad transition": (lambda c, _: ("task_update_status", {
        "id": task_at(c, "planning", "in_progress", "completed"), "status": "pending"}), "INVALID_TRANSITION", False),
    "task: blocked": (blocked_move, "TASK_BLOCKED", True),
    "task: set plan outside planning": (lambda c, _: ("task_set_plan", {
        "id": task_at(c), "plan": {"approach": "a", "steps": ["s"]}}), "INVALID_STATE", False),
    "task: replan a pending task": (replan_task(), "INVALID_STATE", False),
    # claims and agents
    "claim: completed task": (claim_completed, "INVALID_STATE", False),
    "claim: unknown task": (lambda c, _: ("task_claim", {"task_id": "tk_missing", "agent_id": agent(c)}),
                            "TASK_NOT_FOUND", False),
    "release: not claimed": (unclaimed_release, "NOT_CLAIMED", False),
    "release: claimed by another": (others_release, "NOT_ASSIGNED", False),
    "heartbeat: offline agent": (offline_heartbeat, "INVALID_STATE", False),
    "heartbeat: unknown agent": (fixed("agent_heartbeat", agent_id="ag_missing"), "AGENT_NOT_FOUND", False),
    "agent: unknown": (fixed("agent_get", id="ag_missing"), "AGENT_NOT_FOUND", False),
    "agent: update unknown": (fixed("agent_update", id="ag_missing", status="busy"), "AGENT_NOT_FOUND", False),
    "agent: unregister unknown": (fixed("agent_unregister", id="ag_missing"), "AGENT_NOT_FOUND", False),
    # messages
    "message: unknown sender": (message(False, True), "SENDER_NOT_FOUND", False),
    "message: unknown recipient": (message(True, False), "RECIPIENT_NOT_FOUND", False),
    "message: unknown reply_to": (message(True, True, reply_to_id="msg_missing"), "MESSAGE_NOT_FOUND", False),
    "broadcast: unknown sender": (fixed("message_broadcast", sender_id="ag_missing", message_type="broadcast",
                                        body="x"), "SENDER_NOT_FOUND", False),
    "message: get unknown": (fixed("message_get", id="msg_missing"), "MESSAGE_NOT_FOUND", False),
    # replanning
    "add task: duplicate name": (add_task(name="a"), "DUPLICATE_TASK_NAME", True),
    "add task: self dependency": (add_task(name="x", depends_on=["x"]), "SELF_DEPENDENCY", True),
    "add task: unknown dependency": (add_task(name="x", depends_on=["ghost"]), "UNKNOWN_DEPENDENCY", True),
    "add task: unknown workflow": (fixed("workflow_add_task", workflow_id="wf_missing", name="x"),
                                   "WORKFLOW_NOT_FOUND", False),
    "add task: planning workflow": (lambda c, _: ("workflow_add_task", {"workflow_id": planning(c), "name": "x"}),
                                    "INVALID_STATE", False),
    "remove task: unknown": (lambda c, _: ("workflow_remove_task", {
        "workflow_id": make_workflow(c, [{"name": "a"}])["id"], "task_id": "tk_missing"}), "TASK_NOT_FOUND", False),
    "remove task: started": (removing_started, "TASK_NOT_REMOVABLE", False),
    "replan: preserved name": (preserved_name, "NAME_CONFLICT", True),
    "replan: planning workflow": (replan_while_planning, "INVALID_STATE", False),
    "replan: unknown workflow": (fixed("workflow_replan", workflow_id="wf_missing",
                                       plan={"summary": "s", "reason": "r", "tasks": []}), "WORKFLOW_NOT_FOUND", False),
    # templates
    "template: duplicate": (duplicate_template, "DUPLICATE_TEMPLATE", True),
    "template: both sources": (lambda c, _: ("template_create", {
        "name": "t", "from_workflow_id": planning(c), "template": {"tasks": [{"name": "a"}]}}), "INVALID_INPUT", True),
    "template: no source": (fixed("template_create", name="t"), "INVALID_INPUT", True),
    "template: unknown workflow": (fixed("template_create", name="t", from_workflow_id="wf_missing"),
                                   "WORKFLOW_NOT_FOUND", False),
    "template: apply unknown": (fixed("template_apply", template_id="tmpl_missing", workflow_name="w"),
                                "TEMPLATE_NOT_FOUND", False),
    "template: missing variables": (missing_variables, "MISSING_VARIABLES", True),
    # workspaces, checkpoints, context, orchestration, repositories
    "workspace: merged without commit": (merge_without_commit, "MISSING_MERGE_COMMIT", True),
    "workspace: assign to inactive": (assign_to_inactive, "INVALID_STATE", False),
    "workspace: update unknown": (fixed("workspace_update", id="ws_missing", status="abandoned"),
                                  "WORKSPACE_NOT_FOUND", False),
    "workspace: unknown workflow": (lambda c, root: ("workspace_create", {
        "workflow_id": "wf_missing", "branch": "b", "path": str(root / "ws")}), "WORKFLOW_NOT_FOUND", False),
    "checkpoint: unknown task": (fixed("checkpoint_add", task_id="tk_missing", type="progress", summary="s"),
                                 "TASK_NOT_FOUND", False),
    "context: unknown task": (fixed("task_load_context", task_id="tk_missing"), "TASK_NOT_FOUND", False),
    "next tasks: unknown workflow": (fixed("workflow_next_tasks", workflow_id="wf_missing"),
                                     "WORKFLOW_NOT_FOUND", False),
    "progress: unknown workflow": (fixed("workflow_progress", workflow_id="wf_missing"), "WORKFLOW_NOT_FOUND", False),
    "dependencies: unknown task": (fixed("task_check_dependencies", task_id="tk_missing"), "TASK_NOT_FOUND", False),
    "repository: get unknown": (lambda c, root: ("repository_get", {"path": str(root / "nowhere")}),
                                "REPOSITORY_NOT_FOUND", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refusals_carry_the_reference_code_and_recoverable_flag(
    client: caw_lab.Client, tmp_path: Path, case: str
) -> None:
    setup, code, recoverable = CASES[case]
    tool, args = setup(client, tmp_path)
    error = refusal(client, tool, **args)
    assert (error.code, error.recoverable) == (code, recoverable), error.message
    assert error.message and error.suggestion


def test_heartbeat_answers_when_to_call_again(client: caw_lab.Client) -> None:
    assert client.call("agent_heartbeat", agent_id=agent(client)) == {"success": True, "next_heartbeat_ms": 30_000}


def test_offline_heartbeat_says_to_register_again(client: caw_lab.Client) -> None:
    tool, args = offline_heartbeat(client, Path())
    assert "re-register" in refusal(client, tool, **args).suggestion.lower()


def test_a_lost_claim_race_is_an_answer_not_an_error(client: caw_lab.Client) -> None:
    task, first = task_at(client), agent(client, "first")
    assert client.call("task_claim", task_id=task, agent_id=first) == {"success": True}
    lost = client.call("task_claim", task_id=task, agent_id=agent(client, "second"))
    assert lost == {"success": False, "already_claimed_by": first}
    assert client.call("task_release", task_id=task, agent_id=first) == {"success": True}


def test_add_repository_returns_the_link(client: caw_lab.Client, tmp_path: Path) -> None:
    workflow_id = planning(client)
    link = client.call("workflow_add_repository", workflow_id=workflow_id, repository_path=str(tmp_path / "new"))
    assert set(link) == {"workflow_id", "repository_id", "added_at"}
    assert link["workflow_id"] == workflow_id and link["repository_id"].startswith("rp_")
    again = client.call("workflow_add_repository", workflow_id=workflow_id, repository_path=str(tmp_path / "new"))
    assert again == link
    listed = client.call("workflow_list_repositories", workflow_id=workflow_id)["repositories"]
    assert [(r["id"], r["added_at"]) for r in listed] == [(link["repository_id"], link["added_at"])]


def test_an_unused_repository_is_removed(client: caw_lab.Client, tmp_path: Path) -> None:
    wf = client.call("workflow_create", name="w", source_type="prompt", source_content="x",
                     repository_paths=[str(tmp_path / "a")])["id"]
    repo = client.call("workflow_list_repositories", workflow_id=wf)["repositories"][0]["id"]
    assert client.call("workflow_remove_repository", workflow_id=wf, repository_id=repo) == {"success": True}
    assert client.call("workflow_list_repositories", workflow_id=wf)["repositories"] == []


def test_replan_counts_preserved_removed_and_added(client: caw_lab.Client) -> None:
    args = completed_replan(client, [{"name": "New Build", "depends_on": ["Setup"]}])
    result = client.call("workflow_replan", **args)
    assert (result["tasks_preserved"], result["tasks_removed"], result["tasks_added"]) == (1, 1, 1)
    assert result["new_status"] == "in_progress"


def test_add_and_remove_task_results(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    added = client.call("workflow_add_task", workflow_id=wf["id"], name="c")
    assert added["task_id"].startswith("tk_") and added["sequence"] == 3
    after = client.call("workflow_add_task", workflow_id=wf["id"], name="a2", after_task=wf["tasks"]["a"])
    assert after["sequence"] == 2
    removed = client.call("workflow_remove_task", workflow_id=wf["id"], task_id=wf["tasks"]["b"])
    assert removed["removed_task_id"] == wf["tasks"]["b"]


def test_plan_and_status_results(client: caw_lab.Client) -> None:
    workflow_id = planning(client)
    plan = client.call("workflow_set_plan", id=workflow_id, plan={"summary": "s", "tasks": [
        {"name": "a"}, {"name": "b"}, {"name": "c", "depends_on": ["a"]}]})
    assert (plan["workflow_id"], plan["tasks_created"], plan["status"]) == (workflow_id, 3, "ready")
    task = plan["tasks"][0]["id"]
    for status in ("planning", "in_progress"):
        assert client.call("task_update_status", id=task, status=status)["success"] is True
    checkpoint = client.call("checkpoint_add", task_id=task, type="progress", summary="half")
    assert checkpoint["id"].startswith("cp_") and checkpoint["sequence"] == 1
    replanned = client.call("task_replan", id=task, reason="r", new_plan={"approach": "b", "steps": ["x"]})
    assert replanned["success"] is True and replanned["checkpoint_id"].startswith("cp_")


def test_messaging_results(client: caw_lab.Client) -> None:
    sender, recipient = agent(client, "s"), agent(client, "r")
    sent = client.call("message_send", sender_id=sender, recipient_id=recipient, message_type="query",
                       body="hi", subject="Test Subject")
    assert sent["id"].startswith("msg_")
    got = client.call("message_get", id=sent["id"])
    assert (got["id"], got["subject"]) == (sent["id"], "Test Subject")
    lone = agent(client, "lone")
    assert client.call("message_broadcast", sender_id=lone, message_type="broadcast", body="x",
                       recipient_filter={"role": "coordinator"})["sent_count"] == 0
    counts = client.call("message_count_unread", agent_id=recipient)
    assert (counts["count"], counts["by_priority"]) == (0, {})


def test_orchestration_results(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "First"}, {"name": "Second", "depends_on": ["First"]}])
    assert [t["name"] for t in client.call("workflow_next_tasks", workflow_id=wf["id"])["tasks"]] == ["First"]
    waiting = client.call("task_check_dependencies", task_id=wf["tasks"]["Second"])
    assert waiting["satisfied"] is False and [t["name"] for t in waiting["pending"]] == ["First"]
    progress = client.call("workflow_progress", workflow_id=wf["id"])
    assert progress["total_tasks"] == 2 and progress["estimated_remaining"] == 2
