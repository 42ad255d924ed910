"""Failure detection and recovery: a SIGKILLed agent's task is back to pending within the
heartbeat timeout and finished by another agent that sees its checkpoints; a silent agent is
swept; alerts reach the log, a real webhook and a notebook; the retry policy; the resume point."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.alerts import Alert, AlertPump, LogSink, WebhookSink, notebook
from caw_lab.engine import events, recovery, retries
from caw_lab.errors import CawError
from caw_lab.ids import now_ms
from caw_lab.runtimes import Executor, PythonRuntime, SubprocessRuntime, TaskContext
from conftest import make_workflow

TESTS = Path(__file__).resolve().parent
AGENT = [sys.executable, str(TESTS / "mcp_agent.py")]


def wait_for(check: Any, timeout_s: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def kinds(client: caw_lab.Client, workflow_id: str, *wanted: str) -> list[dict[str, Any]]:
    return client.call("events_list", workflow_id=workflow_id, kinds=list(wanted), limit=10_000)["events"]


@pytest.mark.slow
def test_sigkilled_agent_is_recovered_and_its_task_finished_by_another(client: caw_lab.Client,
                                                                      db_path: Path) -> None:
    timeout_ms = 2000
    wf = make_workflow(client, [{"name": "victim", "description": json.dumps({"hang_on_attempt": 1})}])
    victim = wf["tasks"]["victim"]
    client.call("workflow_set_config", id=wf["id"], config={
        "execution": {"runtime": "subprocess",
                      "heartbeat_timeout_ms": timeout_ms, "poll_interval_ms": 50},
        "retry": {"backoff_ms": 800, "jitter": 0}})
    executor = Executor(str(db_path), wf["id"], runtimes={"subprocess": SubprocessRuntime(AGENT)},
                        connect=caw_lab.connect)
    thread = threading.Thread(target=executor.run)
    thread.start()
    try:
        wait_for(lambda: client.call("checkpoint_list", task_id=victim)["checkpoints"], what="a first checkpoint")
        holder = client.call("task_get", id=victim)["assigned_agent_id"]
        pid = client.call("agent_get", id=holder)["metadata"]["pid"]
        killed_at = now_ms()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: client.call("task_get", id=victim)["stored_status"] == "pending", what="pending again")
        assert now_ms() - killed_at <= timeout_ms + 1000
        task = client.call("task_get", id=victim)
        assert task["attempts"] == 1 and task["assigned_agent_id"] is None and "SIGKILL" in task["last_error"]
        lost = kinds(client, wf["id"], "agent.lost")
        assert [e["agent_id"] for e in lost] == [holder] and lost[0]["payload"]["tasks"][0]["from"] == "in_progress"
        alert = kinds(client, wf["id"], "alert.raised")[0]
        assert (alert["payload"]["alert"], alert["task_id"], alert["agent_id"]) == ("agent_lost", victim, holder)
        assert alert["seq"] - lost[0]["seq"] < 5, "the alert is written in the recovery's own batch"
        assert client.call("agent_get", id=holder)["status"] == "offline"
    finally:
        thread.join(120)
    assert executor.outcome is not None and executor.outcome.status == "completed"
    done = client.call("task_get", id=victim)
    assert done["status"] == "completed" and done["attempts"] == 1 and done["assigned_agent_id"] != holder
    report = json.loads(done["outcome"])
    assert report["attempt"] == 2 and "prepare done" in report["seen"] and report["agent"] != holder


def resumed(task: dict[str, Any], ctx: TaskContext) -> str:
    """Finishes the steps the resume point leaves, and reports what it was told."""
    resume = ctx.resume()
    ctx.begin()
    for step in resume["steps_remaining"]:
        ctx.checkpoint(f"{step} done", detail={"step": step})
    return json.dumps(resume)


def test_a_silent_agent_is_swept_and_its_work_resumed(client: caw_lab.Client, db_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    hits: list[dict[str, Any]] = []
    with webhook(hits, failures=0) as url:
        wf = make_workflow(client, [{"name": "half"}])
        task_id = wf["tasks"]["half"]
        client.call("workflow_set_config", id=wf["id"], config={
            "execution": {"heartbeat_timeout_ms": 300, "poll_interval_ms": 20, "alerts": {"webhook": url}},
            "retry": {"backoff_ms": 0}})
        silent = client.call("agent_register", name="from-a-dead-executor", runtime="custom", workflow_id=wf["id"])
        client.call("task_claim", task_id=task_id, agent_id=silent["id"])
        client.call("task_update_status", id=task_id, status="planning")
        client.call("task_set_plan", id=task_id, plan={"approach": "two steps", "steps": ["read", "write"]})
        client.call("task_update_status", id=task_id, status="in_progress")
        client.call("checkpoint_add", task_id=task_id, type="progress", summary="read the input", detail={"step": 1})
        outcome = Executor(str(db_path), wf["id"], overrides={"runtime": "python"},
                           runtimes={"python": PythonRuntime(resumed)}, connect=caw_lab.connect).run()
    assert outcome.status == "completed"
    task = client.call("task_get", id=task_id)
    resume = json.loads(task["outcome"])
    assert resume["attempt"] == 2 and resume["steps_done"] == ["read"] and resume["steps_remaining"] == ["write"]
    assert resume["last_error"].startswith("no heartbeat for") and resume["next_step"] == "write"
    lost = [h for h in hits if h["alert"] == "agent_lost"]
    assert lost and lost[0]["agent_id"] == silent["id"] and lost[0]["task_id"] == task_id
    assert lost[0]["severity"] == "error" and "from-a-dead-executor" in lost[0]["message"]
    assert "[agent_lost] Agent 'from-a-dead-executor'" in caplog.text


def test_sweep_resets_started_work_and_leaves_live_agents_alone(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    quiet = client.call("agent_register", name="quiet", runtime="custom")
    busy = client.call("agent_register", name="busy", runtime="custom")
    for agent, name in ((quiet, "a"), (busy, "b")):
        client.call("task_claim", task_id=wf["tasks"][name], agent_id=agent["id"])
        client.call("task_update_status", id=wf["tasks"][name], status="planning")
    time.sleep(0.15)
    client.call("agent_heartbeat", agent_id=busy["id"])
    swept = client.call("recovery_sweep", workflow_id=wf["id"], timeout_ms=100)["agents"]
    assert [s["agent_id"] for s in swept] == [quiet["id"]] and swept[0]["lost"]
    a, b = (client.call("task_get", id=wf["tasks"][n]) for n in "ab")
    assert (a["stored_status"], a["attempts"], a["assigned_agent_id"]) == ("pending", 1, None)
    assert a["next_attempt_at"] > now_ms() - 1000 and "no heartbeat" in a["last_error"]
    assert (b["stored_status"], b["attempts"], b["assigned_agent_id"]) == ("planning", 0, busy["id"])
    assert client.call("recovery_sweep", workflow_id=wf["id"], timeout_ms=60_000)["agents"] == []


def test_orphaned_tasks_are_settled_by_the_policy(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "dropped"}, {"name": "broken"}], max_parallel_tasks=2)
    agent = client.call("agent_register", name="self-driven", runtime="custom")
    for name in ("dropped", "broken"):
        client.call("task_claim", task_id=wf["tasks"][name], agent_id=agent["id"])
        client.call("task_update_status", id=wf["tasks"][name], status="planning")
        client.call("task_update_status", id=wf["tasks"][name], status="in_progress")
    client.call("task_update_status", id=wf["tasks"]["broken"], status="failed", error="compiler crashed")
    client.call("agent_unregister", id=agent["id"])
    settled = {s["name"]: s for s in client.call("recovery_sweep", workflow_id=wf["id"])["tasks_settled"]}
    assert settled["dropped"]["from"] == "in_progress" and settled["broken"]["error"] == "compiler crashed"
    for name in ("dropped", "broken"):
        task = client.call("task_get", id=wf["tasks"][name])
        assert (task["stored_status"], task["attempts"]) == ("pending", 1)
    assert client.call("recovery_sweep", workflow_id=wf["id"])["tasks_settled"] == []


def test_backoff_grows_and_jitter_only_shortens() -> None:
    policy = retries.RetryPolicy(backoff_ms=100, backoff_factor=3, max_backoff_ms=500, jitter=0.5)
    assert [retries.delay_ms(policy, n, rand=lambda: 0.0) for n in (1, 2, 3)] == [100, 300, 500]
    assert retries.delay_ms(policy, 2, rand=lambda: 1.0) == 150
    assert all(150 <= retries.delay_ms(policy, 2) <= 300 for _ in range(100))


def test_which_errors_are_retried() -> None:
    policy = retries.RetryPolicy(max_attempts=3, retry_on=["timeout", "503"], never_retry_on=["permission"])
    assert retries.decide(policy, 1, "upstream 503").retry
    assert not retries.decide(policy, 1, "syntax error").retry
    assert not retries.decide(policy, 1, "timeout: permission denied").retry
    assert retries.decide(policy, 3, "timeout").reason == "used all 3 attempts"


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"retry_on": ["("]}, {"retries": 3}])
def test_bad_retry_policy_is_refused_before_running(client: caw_lab.Client, db_path: Path, bad: dict[str, Any]) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_set_config", id=wf["id"], config={"retry": bad})
    with pytest.raises(CawError) as refused:
        Executor(str(db_path), wf["id"], overrides={"runtime": "python"}, connect=caw_lab.connect)
    assert refused.value.code == "INVALID_CONFIG" and "retry policy" in refused.value.message
    with pytest.raises(CawError) as per_task:
        client.call("task_set_execution", task_id=wf["tasks"]["a"], retry_policy={"max_attempts": 0})
    assert per_task.value.code == "INVALID_INPUT"


def test_resume_point_in_task_load_context(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "t"}])
    task_id = wf["tasks"]["t"]
    agent = client.call("agent_register", name="first", runtime="custom")
    client.call("task_claim", task_id=task_id, agent_id=agent["id"])
    assert "resume" not in client.call("task_load_context", task_id=task_id)["current_task"]
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_set_plan", id=task_id, plan={"approach": "x", "steps": ["Parse input", "Fix bug", "Add test"]})
    client.call("task_update_status", id=task_id, status="in_progress")
    client.call("checkpoint_add", task_id=task_id, type="progress", summary="x", detail={"step": 1})
    client.call("checkpoint_add", task_id=task_id, type="decision", summary="Fix bug later")
    client.call("checkpoint_add", task_id=task_id, type="progress", summary="done: fix bug")
    client.call("task_update_status", id=task_id, status="failed", error="tests red")
    client.call("agent_unregister", id=agent["id"])
    client.call("recovery_sweep", workflow_id=wf["id"])
    resume = client.call("task_load_context", task_id=task_id)["current_task"]["resume"]
    assert resume == {
        "attempt": 2, "failed_attempts": 1, "last_error": "tests red", "steps_done": ["Parse input", "Fix bug"],
        "steps_remaining": ["Add test"], "next_step": "Add test",
        "last_checkpoint": {"sequence": 3, "checkpoint_type": "progress", "summary": "done: fix bug"},
    }


class Receiver(BaseHTTPRequestHandler):
    hits: list[dict[str, Any]]
    failures: int
    status: int

    def do_POST(self) -> None:  # the http.server hook's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.hits.append({**body, "_at": time.monotonic()})
        failing = len(self.hits) <= self.failures
        self.send_response(self.status if failing else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def webhook(hits: list[dict[str, Any]], failures: int, status: int = 503) -> Iterator[str]:
    """A real HTTP server on a free loopback port answering ``status`` to the first ``failures`` POSTs."""
    handler = type("Handler", (Receiver,), {"hits": hits, "failures": failures, "status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


ALERT = Alert(seq=7, at=1, alert="agent_lost", severity="error", message="lost", workflow_id="wf_x", detail={"a": 1})


def test_webhook_retries_with_backoff_until_delivered() -> None:
    hits: list[dict[str, Any]] = []
    with webhook(hits, failures=2) as url:
        WebhookSink(url, attempts=4, backoff_s=0.1).send(ALERT)
    assert len(hits) == 3
    assert {k: v for k, v in hits[-1].items() if k != "_at"} == ALERT.to_dict()
    gaps = [b["_at"] - a["_at"] for a, b in itertools.pairwise(hits)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1, gaps


@pytest.mark.parametrize(("failures", "status", "expected_hits"), [(9, 503, 3), (9, 400, 1)])
def test_webhook_gives_up(failures: int, status: int, expected_hits: int) -> None:
    hits: list[dict[str, Any]] = []
    with webhook(hits, failures=failures, status=status) as url, pytest.raises(CawError) as failed:
        WebhookSink(url, attempts=3, backoff_s=0.01).send(ALERT)
    assert failed.value.code == "WEBHOOK_FAILED" and f"HTTP {status}" in failed.value.message
    assert len(hits) == expected_hits


def test_an_alert_a_sink_refuses_is_logged_and_recorded_beside_it(client: caw_lab.Client, db_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    agent = client.call("agent_register", name="gone", runtime="custom", workflow_id=wf["id"])
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=agent["id"])
    hits: list[dict[str, Any]] = []
    with webhook(hits, failures=9, status=400) as url:
        pump = AlertPump(str(db_path), [LogSink(), WebhookSink(url)], wf["id"], interval_s=0.05)
        recovery.end_agent(client.db, agent["id"], "its process vanished")
        pump.close()
    [alert] = notebook.recent(client, workflow_id=wf["id"])
    [record] = client.call("events_list", workflow_id=wf["id"], kinds=["alert.undelivered"])["events"]
    assert record["payload"] == {"alert_seq": alert["seq"], "alert": "agent_lost", "sink": "webhook http://127.0.0.1",
                                 "error": f"Alert {alert['seq']} not delivered to webhook http://127.0.0.1: HTTP 400"}
    assert [e["kind"] for e in events.of_call(client.db, alert["correlation_id"])] == ["alert.undelivered"]
    assert len(hits) == 1 and hits[0]["correlation_id"] == alert["correlation_id"]
    [line] = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert f"correlation id {alert['correlation_id']}" in line and "HTTP 400" in line


def test_notebook_polls_and_subscribes_to_alerts(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    agent = client.call("agent_register", name="gone", runtime="custom", workflow_id=wf["id"])
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=agent["id"])
    before = notebook.recent(client)
    received: list[Alert] = []
    pump = notebook.subscribe(client, received.append, interval_s=0.05)
    try:
        recovery.end_agent(client.db, agent["id"], "its process vanished")
        wait_for(lambda: received, 10, "the subscribed callback")
    finally:
        pump.close()
    fresh = notebook.recent(client, since_seq=before[-1]["seq"] if before else 0)
    assert [a["alert"] for a in fresh] == ["agent_lost"] and fresh[0]["task_id"] == wf["tasks"]["a"]
    assert received[0].seq == fresh[0]["seq"] and "its process vanished" in received[0].message
    assert notebook.recent(client, since_seq=fresh[0]["seq"]) == []


def test_an_attempt_past_the_task_timeout_is_stopped_and_counted(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "endless", "description": "wait"}])
    client.call("workflow_set_config", id=wf["id"], config={
        "execution": {"runtime": "python", "task_timeout_ms": 300, "stop_grace_ms": 2000, "poll_interval_ms": 20},
        "retry": {"max_attempts": 1}})
    started = time.monotonic()
    patient = PythonRuntime("runtime_work:patient")
    executor = Executor(str(db_path), wf["id"], runtimes={"python": patient}, connect=caw_lab.connect)
    assert executor.run().status == "failed"
    assert time.monotonic() - started < 20
    [entry] = client.call("dlq_list", workflow_id=wf["id"])["dead_letters"]
    assert entry["error"] == "attempt timed out after 300 ms" and entry["attempts"] == 1
