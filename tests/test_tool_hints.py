"""Every tool's MCP annotations say what it does, and its output schema what it returns.

Each tool in the registry is called on its own copy of one prepared database: a tool
annotated read-only must write no event (every change writes one), a tool that is not must
write one when it succeeds, and every result's structured content must validate against the
tool's output schema. A tool added without hints, or without arguments here, fails with a
message saying what to add.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import caw_lab
from caw_lab.errors import CawError
from caw_lab.mcp import results
from caw_lab.tools import REGISTRY, load_all
from conftest import make_workflow

Ids = dict[str, Any]
PLAN = {"approach": "again", "steps": ["one"]}

ARGUMENTS: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "agent_register": lambda i: {"name": "n", "runtime": "custom"},
    "agent_heartbeat": lambda i: {"agent_id": i["agent"]},
    "agent_update": lambda i: {"id": i["agent"], "metadata": {"k": 1}},
    "agent_get": lambda i: {"id": i["agent"]},
    "agent_list": lambda i: {},
    "agent_unregister": lambda i: {"id": i["agent"]},
    "agent_mark_stale": lambda i: {"timeout_ms": 0},
    "checkpoint_add": lambda i: {"task_id": i["a"], "type": "progress", "summary": "s"},
    "checkpoint_list": lambda i: {"task_id": i["a"]},
    "task_claim": lambda i: {"task_id": i["c"], "agent_id": i["agent"]},
    "task_release": lambda i: {"task_id": i["a"], "agent_id": i["agent"]},
    "task_get_available": lambda i: {"agent_id": i["agent"]},
    "task_load_context": lambda i: {"task_id": i["a"]},
    "workflow_get_summary": lambda i: {"id": i["wf"]},
    "task_add_dependency": lambda i: {"task_id": i["c"], "depends_on_id": i["a"]},
    "task_remove_dependency": lambda i: {"task_id": i["b"], "depends_on_id": i["a"]},
    "events_list": lambda i: {},
    "workflow_start": lambda i: {"workflow_id": i["wf"]},
    "workflow_suspend": lambda i: {"workflow_id": i["wf"]},
    "workflow_resume": lambda i: {"workflow_id": i["wf"]},
    "workflow_execution_status": lambda i: {"workflow_id": i["wf"]},
    "task_set_execution": lambda i: {"task_id": i["c"], "runtime": "custom"},
    "workflow_from_issue": lambda i: {"repo": "octo/repo", "number": 1},
    "workspace_open_pr": lambda i: {"workspace_id": i["workspace"]},
    "task_handoff": lambda i: {"task_id": i["a"], "from_agent": i["agent"], "to_agent": i["rival"], "note": "yours"},
    "workflow_lock": lambda i: {"id": i["wf"], "session_id": "s1"},
    "workflow_unlock": lambda i: {"id": i["planning"], "session_id": "s1"},
    "workflow_lock_info": lambda i: {"id": i["wf"]},
    "memory_create": lambda i: {"topic": "t2", "content": "c2"},
    "memory_reinforce": lambda i: {"id": i["memory"]},
    "memory_decay": lambda i: {"threshold": 1.0},
    "memory_recall": lambda i: {"topic": "t"},
    "message_send": lambda i: {"sender_id": i["agent"], "recipient_id": i["rival"], "message_type": "status_update",
                               "body": "b"},
    "message_broadcast": lambda i: {"sender_id": i["agent"], "message_type": "broadcast", "body": "b"},
    "message_list": lambda i: {"agent_id": i["rival"]},
    "message_get": lambda i: {"id": i["message"]},
    "message_mark_read": lambda i: {"message_ids": [i["message"]]},
    "message_archive": lambda i: {"message_ids": [i["message"]]},
    "message_count_unread": lambda i: {"agent_id": i["rival"]},
    "workflow_metrics": lambda i: {"workflow_id": i["wf"]},
    "workflow_next_tasks": lambda i: {"workflow_id": i["wf"]},
    "workflow_progress": lambda i: {"workflow_id": i["wf"]},
    "task_check_dependencies": lambda i: {"task_id": i["b"]},
    "task_get": lambda i: {"id": i["a"]},
    "task_set_plan": lambda i: {"id": i["d"], "plan": PLAN},
    "task_update_status": lambda i: {"id": i["a"], "status": "completed", "outcome": "done"},
    "task_replan": lambda i: {"id": i["a"], "reason": "r", "new_plan": PLAN},
    "dlq_list": lambda i: {},
    "dlq_requeue": lambda i: {"id": i["dead_letter"]},
    "dlq_discard": lambda i: {"id": i["dead_letter"]},
    "task_rollback": lambda i: {"task_id": i["d"], "checkpoint_id": i["rolled_back_to"]},
    "recovery_sweep": lambda i: {"timeout_ms": 0},
    "workflow_create": lambda i: {"name": "w2", "source_type": "prompt", "source_content": "x"},
    "workflow_get": lambda i: {"id": i["wf"], "include_tasks": True},
    "workflow_list": lambda i: {},
    "workflow_set_plan": lambda i: {"id": i["planning"], "plan": {"summary": "s", "tasks": [{"name": "x"}]}},
    "workflow_update_status": lambda i: {"id": i["wf"], "status": "paused"},
    "workflow_set_parallelism": lambda i: {"id": i["wf"], "max_parallel_tasks": 3},
    "workflow_set_config": lambda i: {"id": i["wf"], "config": {"k": 1}},
    "workflow_add_task": lambda i: {"workflow_id": i["wf"], "name": "e"},
    "workflow_remove_task": lambda i: {"workflow_id": i["wf"], "task_id": i["c"]},
    "workflow_replan": lambda i: {"workflow_id": i["wf"], "plan": {"summary": "s", "reason": "r",
                                                                   "tasks": [{"name": "z"}]}},
    "repository_register": lambda i: {"path": i["repo3"]},
    "repository_list": lambda i: {},
    "repository_get": lambda i: {"path": i["repo"]},
    "workflow_add_repository": lambda i: {"workflow_id": i["wf"], "repository_path": i["repo2"]},
    "workflow_remove_repository": lambda i: {"workflow_id": i["planning"], "repository_id": i["repository"]},
    "workflow_list_repositories": lambda i: {"workflow_id": i["wf"]},
    "template_create": lambda i: {"name": "t2", "from_workflow_id": i["wf"]},
    "template_list": lambda i: {},
    "template_publish": lambda i: {"name": "t", "version": "1.2.0", "template": {"tasks": [{"name": "y"}]}},
    "template_get": lambda i: {"template_id": "t"},
    "template_versions": lambda i: {"name": "t"},
    "template_diff": lambda i: {"name": "t", "from_version": "1.0.0", "to_version": "1.1.0"},
    "template_apply": lambda i: {"template_id": i["template"], "workflow_name": "from-template"},
    "workspace_create": lambda i: {"workflow_id": i["wf"], "branch": "other", "path": i["repo2"]},
    "workspace_update": lambda i: {"id": i["workspace"], "status": "abandoned"},
    "workspace_list": lambda i: {"workflow_id": i["wf"]},
    "workspace_get": lambda i: {"id": i["workspace"]},
    "task_logs": lambda i: {"task_id": i["a"]},
    "task_assign_workspace": lambda i: {"task_id": i["c"], "workspace_id": i["workspace"]},
    "workflow_check_merge": lambda i: {"workflow_id": i["wf"]},
    "workflow_conflicts": lambda i: {"workflow_id": i["wf"]},
    "worktree_gc": lambda i: {"repo_path": i["repo"]},
    "lease_acquire": lambda i: {"resource": "file:src/*.py", "agent_id": i["agent"], "ttl_ms": 1000},
    "lease_renew": lambda i: {"resource": "named:held", "agent_id": i["agent"], "fencing_token": i["lease"],
                              "ttl_ms": 1000},
    "lease_release": lambda i: {"resource": "named:held", "agent_id": i["agent"], "fencing_token": i["lease"]},
    "lease_list": lambda i: {},
    "lease_check": lambda i: {"resource": "named:held", "fencing_token": i["lease"]},
    "workflow_scaling_hints": lambda i: {"workflow_id": i["wf"]},
}
"""Arguments each tool is called with on the prepared database (``prepared``)."""

OUTSIDE_WORLD = {"workflow_start", "workflow_suspend", "workflow_resume", "workflow_from_issue", "workspace_open_pr"}
"""Tools that need agent processes or GitHub, refused here before they write anything (their
writes are proven by test_executor.py and test_github.py); every other tool must succeed."""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def make_repo(path: Path) -> str:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "f.txt").write_text("x\n")
    git(path, "add", "f.txt")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    return str(path)


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("hints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAW_ALLOWED_ROOTS", str(root))
        yield root


@pytest.fixture(scope="module")
def prepared(roots: Path) -> tuple[Path, Ids]:
    path = roots / "prepared.db"
    with caw_lab.connect(path) as client:
        return path, prepare(client, roots)


def prepare(client: caw_lab.Client, roots: Path) -> Ids:
    """A workflow mid-flight: task a claimed and checkpointed, b waiting on a, c free; two
    agents, a message, a memory, a repository, a workspace, a template, a dead letter. The
    repositories are made in ``roots``, which must be an allowed root."""
    i: Ids = {name: make_repo(roots / name) for name in ("repo", "repo2", "repo3")}
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c"}, {"name": "d"}],
                       repository_paths=[i["repo"]], max_parallel_tasks=4)
    i |= {"wf": wf["id"], **wf["tasks"]}
    i["agent"] = client.call("agent_register", name="me", runtime="custom")["id"]
    i["rival"] = client.call("agent_register", name="rival", runtime="custom")["id"]
    client.call("task_claim", task_id=i["a"], agent_id=i["agent"])
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=i["a"], status=status)
    client.call("checkpoint_add", task_id=i["a"], type="progress", summary="q")
    i["lease"] = client.call("lease_acquire", resource="named:held", agent_id=i["agent"],
                             ttl_ms=3_600_000)["fencing_token"]
    i["rolled_back_to"] = left_behind(client, i["d"])
    i["message"] = client.call("message_send", sender_id=i["agent"], recipient_id=i["rival"],
                               message_type="query", body="?")["id"]
    i["memory"] = client.call("memory_create", topic="t", content="c")["id"]
    i["workspace"] = client.call("workspace_create", workflow_id=wf["id"], branch="ws", repo_path=i["repo"],
                                 create_worktree=True)["id"]
    i["template"] = client.call("template_create", name="t", from_workflow_id=wf["id"])["id"]
    client.call("template_publish", name="t", version="1.1.0", template={"tasks": [{"name": "x"}]})
    planning = client.call("workflow_create", name="p", source_type="prompt", source_content="x",
                           repository_paths=[i["repo2"]])
    i["planning"] = planning["id"]
    i["repository"] = client.call("workflow_list_repositories", workflow_id=planning["id"])["repositories"][0]["id"]
    client.call("workflow_lock", id=planning["id"], session_id="s1")
    i["dead_letter"] = dead_letter(client)
    return i


def left_behind(client: caw_lab.Client, task: str) -> str:
    """``task`` checkpointed twice by an agent that then left; returns the first checkpoint."""
    agent = client.call("agent_register", name="gone", runtime="custom")["id"]
    client.call("task_claim", task_id=task, agent_id=agent)
    client.call("task_update_status", id=task, status="planning")
    first = client.call("checkpoint_add", task_id=task, type="plan", summary="first")["id"]
    client.call("checkpoint_add", task_id=task, type="progress", summary="second")
    client.call("agent_unregister", id=agent)
    return first


def dead_letter(client: caw_lab.Client) -> str:
    wf = make_workflow(client, [{"name": "solo"}])
    client.call("workflow_set_config", id=wf["id"], config={"retry": {"max_attempts": 1}})
    agent = client.call("agent_register", name="doomed", runtime="custom")["id"]
    task = wf["tasks"]["solo"]
    client.call("task_claim", task_id=task, agent_id=agent)
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task, status=status)
    client.call("task_update_status", id=task, status="failed", error="boom")
    client.call("agent_unregister", id=agent)
    client.call("recovery_sweep", workflow_id=wf["id"])
    return client.call("dlq_list", workflow_id=wf["id"])["dead_letters"][0]["id"]


def last_event(client: caw_lab.Client) -> int:
    return client.db.scalar("SELECT COALESCE(MAX(seq), 0) FROM events")


@pytest.mark.parametrize("name", sorted(load_all()))
def test_hints_match_what_the_tool_does_and_results_match_the_output_schema(
    name: str, prepared: tuple[Path, Ids], tmp_path: Path
) -> None:
    spec = REGISTRY[name]
    assert spec.hints is not None, (
        f"{name} declares no hints: add read_only=True/False (and destructive, idempotent, open_world) to its @tool")
    assert spec.result is not None, f"{name} declares no result model: add result=<pydantic model> to its @tool"
    assert name in ARGUMENTS, f"{name} has no arguments in tests/test_tool_hints.py ARGUMENTS: add some"
    source, ids = prepared
    copy = tmp_path / "copy.db"
    shutil.copy(source, copy)
    with caw_lab.connect(copy) as client:
        before = last_event(client)
        try:
            result = client.call(name, **ARGUMENTS[name](ids))
        except CawError as err:
            assert name in OUTSIDE_WORLD, f"{name} refused its test arguments: {err.to_json()}"
            assert last_event(client) == before, f"{name} was refused yet wrote an event"
            return
        wrote = last_event(client) > before
    assert name not in OUTSIDE_WORLD, f"{name} succeeded here: take it out of OUTSIDE_WORLD"
    if spec.hints.read_only:
        assert not wrote, f"{name} is annotated read-only but wrote an event"
    else:
        assert wrote, f"{name} is not annotated read-only but wrote no event: annotate it read_only=True"
    structured = results.success_result(result).structured_content
    errors = [e.message for e in Draft202012Validator(spec.output_schema()).iter_errors(structured)]
    assert errors == [], f"{name}'s result does not match its output schema"


def test_every_tool_has_arguments_here_and_none_is_left_over() -> None:
    assert sorted(set(ARGUMENTS) - set(load_all())) == []
