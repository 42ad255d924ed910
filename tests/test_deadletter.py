"""Retries and the dead-letter queue: a task that always fails is retried after growing
backoffs, then dead-lettered with its error and checkpoints; requeue runs it again (with a
new plan), discard skips it, and the workflow's status follows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from caw_lab.runtimes import Executor, PythonRuntime
from conftest import dump, make_workflow
from runtime_work import always_fails, needs_fixed_plan, steady


def run(db_path: Path, workflow_id: str, work: Any) -> Any:
    runtimes = {"python": PythonRuntime(work)}
    return Executor(str(db_path), workflow_id, overrides={"runtime": "python", "poll_interval_ms": 10},
                    runtimes=runtimes, connect=caw_lab.connect).run()


def by_name(work: dict[str, Any]) -> Any:
    """One python agent that runs ``work[task name]`` (``steady`` for the rest)."""
    return lambda task, ctx: work.get(task["name"], steady)(task, ctx)


def events(client: caw_lab.Client, workflow_id: str, *kinds: str) -> list[dict[str, Any]]:
    return client.call("events_list", workflow_id=workflow_id, kinds=list(kinds), limit=10_000)["events"]


def test_always_failing_task_is_retried_with_backoff_then_dead_lettered(client: caw_lab.Client,
                                                                       db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "doomed"}, {"name": "after", "depends_on": ["doomed"]}, {"name": "free"}],
                       max_parallel_tasks=2)
    client.call("workflow_set_config", id=wf["id"], config={
        "retry": {"max_attempts": 3, "backoff_ms": 150, "backoff_factor": 2, "jitter": 0.2}})
    outcome = run(db_path, wf["id"], by_name({"doomed": always_fails}))
    assert outcome.status == "failed" and "dead-letter" in outcome.message
    doomed = wf["tasks"]["doomed"]
    task = client.call("task_get", id=doomed)
    assert (task["status"], task["attempts"], task["last_error"]) == ("failed", 3, "RuntimeError: disk full")
    assert client.call("task_get", id=wf["tasks"]["free"])["status"] == "completed"
    assert client.call("task_get", id=wf["tasks"]["after"])["status"] == "blocked"
    assert client.call("workflow_get", id=wf["id"])["status"] == "failed"

    scheduled = [e for e in events(client, wf["id"], "task.retry_scheduled") if e["task_id"] == doomed]
    claims = [e for e in events(client, wf["id"], "task.claimed") if e["task_id"] == doomed]
    assert [e["payload"]["attempts"] for e in scheduled] == [1, 2] and len(claims) == 3
    for retry, nominal, claim in zip(scheduled, (150, 300), claims[1:], strict=True):
        delay = retry["payload"]["delay_ms"]
        scheduled_at = retry["payload"]["next_attempt_at"] - delay
        assert nominal * 0.8 <= delay <= nominal
        assert 0 <= retry["at"] - scheduled_at <= 50, "the backoff is counted from when the failure was recorded"
        assert claim["at"] >= retry["payload"]["next_attempt_at"], "a retry started inside its backoff"

    [entry] = client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]
    assert (entry["task_id"], entry["task_name"], entry["attempts"]) == (doomed, "doomed", 3)
    assert entry["error"] == "RuntimeError: disk full" and entry["status"] == "queued"
    assert [c["summary"] for c in entry["checkpoints"]] == [f"attempt {n} tried" for n in (1, 2, 3)]
    alerts = [e["payload"]["alert"] for e in events(client, wf["id"], "alert.raised")]
    assert alerts == ["task_dead_lettered", "workflow_failed"]
    status = client.call("workflow_execution_status", workflow_id=wf["id"])
    assert (status["status"], status["deadLetters"]) == ("failed", 1)


def test_requeue_with_a_new_plan_runs_the_task_again(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "stubborn"}, {"name": "after", "depends_on": ["stubborn"]}])
    client.call("workflow_set_config", id=wf["id"], config={"retry": {"max_attempts": 2, "backoff_ms": 0}})
    work = by_name({"stubborn": needs_fixed_plan})
    assert run(db_path, wf["id"], work).status == "failed"
    [entry] = client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]
    requeued = client.call("dlq_requeue", id=entry["id"], new_plan={"approach": "fixed", "steps": ["try"]},
                           reason="use the fixed approach")
    assert requeued["status"] == "pending" and requeued["plan_replaced"]
    task = client.call("task_get", id=entry["task_id"], include_checkpoints=True)
    assert (task["stored_status"], task["attempts"], task["plan"]["approach"]) == ("pending", 0, "fixed")
    replan = task["checkpoints"][-1]
    assert replan["checkpoint_type"] == "replan" and replan["detail"]["previous_plan"]["approach"] == "naive"
    assert client.call("workflow_get", id=wf["id"])["status"] == "in_progress"
    assert client.call("dlq_list", workflow_id=wf["id"])["dead_letters"] == []

    assert run(db_path, wf["id"], work).status == "completed"
    assert client.call("task_get", id=entry["task_id"])["outcome"] == "done with the fixed plan"
    assert client.call("workflow_get", id=wf["id"])["status"] == "completed"
    [closed] = client.call("dlq_list", workflow_id=wf["id"], status="requeued")["dead_letters"]
    assert closed["resolution"] == "use the fixed approach" and closed["resolved_at"]


def test_discard_skips_the_task_so_the_workflow_can_finish(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "doomed"}, {"name": "after", "depends_on": ["doomed"]}])
    client.call("workflow_set_config", id=wf["id"], config={"retry": {"max_attempts": 1}})
    assert run(db_path, wf["id"], by_name({"doomed": always_fails})).status == "failed"
    [entry] = client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]
    discarded = client.call("dlq_discard", id=entry["id"], reason="not needed after all")
    assert discarded == {"success": True, "task_id": entry["task_id"], "status": "skipped",
                         "workflow_status": "in_progress"}
    assert client.call("task_get", id=entry["task_id"])["outcome"].endswith("not needed after all")
    assert client.call("dlq_list", workflow_id=wf["id"])["dead_letters"] == []
    assert run(db_path, wf["id"], steady).status == "completed"
    assert client.call("workflow_get", id=wf["id"])["status"] == "completed"


def dead_letter(client: caw_lab.Client, name: str = "solo", error: str = "boom") -> tuple[dict[str, Any], str]:
    """A one-task workflow whose task was dead-lettered without any executor: failed by its
    agent, which left, then settled by a recovery sweep under a one-attempt policy."""
    wf = make_workflow(client, [{"name": name}])
    client.call("workflow_set_config", id=wf["id"], config={"retry": {"max_attempts": 1}})
    agent = client.call("agent_register", name="a", runtime="custom")
    task_id = wf["tasks"][name]
    client.call("task_claim", task_id=task_id, agent_id=agent["id"])
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task_id, status=status)
    client.call("task_update_status", id=task_id, status="failed", error=error)
    client.call("agent_unregister", id=agent["id"])
    client.call("recovery_sweep", workflow_id=wf["id"])
    [entry] = client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]
    return wf, entry["id"]


def test_discarding_the_last_task_completes_the_workflow(client: caw_lab.Client) -> None:
    wf, entry = dead_letter(client)
    assert client.call("dlq_discard", id=entry)["workflow_status"] == "completed"
    statuses = [e["payload"]["to"] for e in events(client, wf["id"], "workflow.status")]
    assert statuses[-1] == "completed"


def test_resolved_or_unknown_entries_are_refused_without_changes(client: caw_lab.Client) -> None:
    _, entry = dead_letter(client)
    client.call("dlq_requeue", id=entry)
    before = dump(client.db)
    for tool in ("dlq_requeue", "dlq_discard"):
        with pytest.raises(CawError) as again:
            client.call(tool, id=entry)
        assert again.value.code == "INVALID_STATE" and "already requeued" in again.value.message
        with pytest.raises(CawError) as unknown:
            client.call(tool, id="dl_000000000000")
        assert unknown.value.code == "DEAD_LETTER_NOT_FOUND"
    assert dump(client.db) == before


def flaky_network(task: dict[str, Any], ctx: Any) -> str:
    raise RuntimeError("flaky network")


def test_errors_that_are_never_retried_go_straight_to_the_queue(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "full"}, {"name": "once"}], max_parallel_tasks=2)
    retry = {"max_attempts": 5, "never_retry_on": ["disk full"]}
    client.call("workflow_set_config", id=wf["id"], config={"retry": retry})
    client.call("task_set_execution", task_id=wf["tasks"]["once"], retry_policy={"max_attempts": 1})
    fails = {"full": always_fails, "once": flaky_network}
    assert run(db_path, wf["id"], by_name(fails)).status == "failed"
    entries = {e["task_name"]: e for e in client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]}
    assert entries["full"]["attempts"] == 1 and entries["once"]["attempts"] == 1
    reasons = {e["task_id"]: e["payload"]["why"] for e in events(client, wf["id"], "task.dead_lettered")}
    assert reasons[wf["tasks"]["full"]] == "error is not retryable"
    assert reasons[wf["tasks"]["once"]] == "used all 1 attempts"
