"""What only D1 can show: many processes on one shared database, an agent on "another
machine" picking up a hand-off, the server crashing mid-run, a wrong token, and the
limits of D1's JSON numbers. The engine's other tests run on D1 through ``client``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.d1local import LocalD1
from caw_lab.store.d1 import D1Backend
from caw_lab.tools import call_tool
from tests.conftest import dump, make_workflow
from tests.test_claim_race import race

RACE_TASKS = 64
LOOP_LIMIT_S = 20
OTHER_MACHINE = """
import json, sys
import caw_lab
with caw_lab.connect(sys.argv[1]) as client:
    agent = sys.argv[2]
    task = client.call("task_get_available", agent_id=agent)["tasks"][0]
    claimed = client.call("task_claim", task_id=task["id"], agent_id=agent)["success"]
    context = client.call("task_load_context", task_id=task["id"])
    print(json.dumps({"task": task["id"], "claimed": claimed, "last": context["current_task"]["checkpoints"][-1],
                      "messages": [m["body"] for m in context["messages"]]}))
"""


@pytest.mark.slow
def test_eight_processes_claim_every_task_exactly_once_on_d1(d1_client: caw_lab.Client) -> None:
    wf = make_workflow(d1_client, [{"name": f"task-{i}"} for i in range(RACE_TASKS)], max_parallel_tasks=1000)
    outcomes = race(d1_client.db.url, wf["id"])
    won = [task for o in outcomes for task in o["won"]]
    assert sorted(won) == sorted(wf["tasks"].values()), "a task was won twice or not at all"
    assert sum(o["lost"] for o in outcomes) > 0, "the racers never collided"
    winners = {task: o["agent_id"] for o in outcomes for task in o["won"]}
    rows = d1_client.db.query("SELECT id, assigned_agent_id FROM tasks WHERE workflow_id = ?", (wf["id"],))
    assert {r["id"]: r["assigned_agent_id"] for r in rows} == winners
    events = d1_client.call("events_list", workflow_id=wf["id"], kinds=["task.claimed"])["events"]
    assert sorted(e["task_id"] for e in events) == sorted(won)


def test_an_agent_on_another_machine_picks_up_a_handoff(d1_client: caw_lab.Client) -> None:
    wf = make_workflow(d1_client, [{"name": "migrate schema"}, {"name": "later", "depends_on": ["migrate schema"]}])
    task = wf["tasks"]["migrate schema"]
    here = d1_client.call("agent_register", name="laptop", runtime="custom")["id"]
    there = d1_client.call("agent_register", name="server", runtime="custom")["id"]
    d1_client.call("task_claim", task_id=task, agent_id=here)
    d1_client.call("task_update_status", id=task, status="planning")
    note = "Columns added; backfill left: run scripts/backfill.py on the replica first."
    d1_client.call("task_handoff", task_id=task, from_agent=here, note=note)

    done = subprocess.run([sys.executable, "-c", OTHER_MACHINE, d1_client.db.url, there],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["task"], seen["claimed"]) == (task, True)
    assert (seen["last"]["type"], seen["last"]["summary"]) == ("handoff", note)
    assert [m["note"] for m in seen["messages"]] == [note]


def test_integers_d1_cannot_carry_exactly_are_refused_before_sending(d1_client: caw_lab.Client) -> None:
    before = dump(d1_client.db)
    assert d1_client.call("events_list", since_seq=2**53 - 1)["events"] == []
    with pytest.raises(caw_lab.CawError) as info:
        d1_client.call("events_list", since_seq=2**53 + 1)
    assert info.value.code == "INVALID_INPUT" and info.value.recoverable
    assert dump(d1_client.db) == before


def test_a_wrong_token_is_a_clear_error_and_writes_nothing(local_d1: Any, fresh_d1_database: str) -> None:
    with caw_lab.connect(local_d1.url(fresh_d1_database)) as team:
        make_workflow(team, [{"name": "a"}])
        before = dump(team.db)
    intruder = D1Backend("local", fresh_d1_database, "not-the-token", local_d1.api)
    for attempt in (lambda: caw_lab.Client(intruder).call("workflow_create", name="x", source_type="prompt",
                                                          source_content="y"),
                    lambda: call_tool(intruder, "workflow_list", {})):
        with pytest.raises(caw_lab.CawError) as info:
            attempt()
        assert info.value.code == "D1_UNAUTHORIZED" and "CAW_D1_TOKEN" in info.value.suggestion
    with caw_lab.connect(local_d1.url(fresh_d1_database)) as team:
        assert dump(team.db) == before


def busy_loop(client: caw_lab.Client, task: str, sender: str, record: dict[str, Any]) -> None:
    """Checkpoints and broadcasts, each one batch, until the database stops answering."""
    deadline = time.monotonic() + LOOP_LIMIT_S
    while time.monotonic() < deadline:
        try:
            record["checkpoints"].append(client.call("checkpoint_add", task_id=task, type="progress",
                                                     summary=f"step {len(record['checkpoints'])}")["id"])
            record["broadcasts"].append(client.call("message_broadcast", sender_id=sender, message_type="broadcast",
                                                    body="ping")["message_ids"])
        except caw_lab.CawError as err:
            record["error"] = err
            return


@pytest.mark.usefixtures("local_d1")  # skips, saying why, where npm is missing
def test_a_crashed_server_fails_calls_recoverably_and_leaves_no_partial_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LocalD1(tmp_path / "d1", ["faults"]).start()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    client = caw_lab.connect(server.url())
    try:
        wf = make_workflow(client, [{"name": "a"}])
        task = wf["tasks"]["a"]
        agents = [client.call("agent_register", name=f"w{i}", runtime="custom")["id"] for i in range(4)]
        record: dict[str, Any] = {"checkpoints": [], "broadcasts": [], "error": None}
        loop = threading.Thread(target=busy_loop, args=(client, task, agents[0], record))
        loop.start()
        while len(record["checkpoints"]) < 20 and loop.is_alive():
            time.sleep(0.01)
        server.kill()
        loop.join(LOOP_LIMIT_S + 10)
        assert record["error"] is not None and record["error"].recoverable, record["error"]
        assert record["error"].code == "D1_UNREACHABLE"

        server = LocalD1(tmp_path / "d1", ["faults"], server.port, server.token).start()
        assert_whole(client, record)
        assert client.call("checkpoint_add", task_id=task, type="progress", summary="back")["sequence"] > 20
    finally:
        client.close()
        server.stop()


def assert_whole(client: caw_lab.Client, record: dict[str, Any]) -> None:
    """Every change acknowledged is there, and every change there is there whole."""
    events = client.call("events_list", limit=10_000)["events"]
    noted = [e["payload"]["checkpoint_id"] for e in events if e["kind"] == "checkpoint.added"]
    stored = [r["id"] for r in client.db.query("SELECT id FROM checkpoints ORDER BY sequence")]
    assert noted == stored and stored[:len(record["checkpoints"])] == record["checkpoints"]
    sent = [e["payload"]["message_ids"] for e in events if e["kind"] == "message.broadcast"]
    messages = {r["id"] for r in client.db.query("SELECT id FROM messages")}
    assert sent[:len(record["broadcasts"])] == record["broadcasts"]
    assert sorted(m for ids in sent for m in ids) == sorted(messages) and all(len(ids) == 3 for ids in sent)
