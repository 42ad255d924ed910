"""``/ws`` against a real server: changes any process makes arrive, resumes miss nothing, agents' logs stream.

One server per module; the changes come from other processes (``caw call``), from this
process's own client on the same SQLite file, and from a real executor running a real
subprocess agent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

import caw_lab
from caw_lab.runtimes.executor import Executor
from caw_lab.runtimes.subprocess import SubprocessRuntime
from conftest import make_workflow
from mcp_session import CAW, HttpServer, http_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_server(tmp_path_factory.mktemp("ws") / "workflows.db") as running:
        yield running


@pytest.fixture
def db_file(server: HttpServer) -> Path:
    args = server.process.args
    assert isinstance(args, list)
    return Path(args[args.index("--db") + 1])


@pytest.fixture
def local(db_file: Path) -> Iterator[caw_lab.Client]:
    with caw_lab.connect(db_file) as c:
        yield c


@contextmanager
def open_ws(server: HttpServer, **headers: str) -> Iterator[ClientConnection]:
    url = server.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {server.token}", **headers},
                 open_timeout=30) as ws:
        assert receive(ws)["type"] == "welcome"
        yield ws


def receive(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def subscribe(ws: ClientConnection, channel: str, since: int | None = None) -> list[dict[str, Any]]:
    """Subscribe; returns what arrived before the acknowledgement (a resume's replay)."""
    ws.send(json.dumps({"type": "subscribe", "channel": channel, **({"since": since} if since is not None else {})}))
    before = []
    while (message := receive(ws))["type"] != "subscribed":
        before.append(message)
    return before


def until(ws: ClientConnection, wanted: Any, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = receive(ws, max(0.01, deadline - time.monotonic()))
        if wanted(message):
            return message


def test_task_updated_arrives_within_a_second_of_a_caw_call_in_another_process(
    server: HttpServer, local: caw_lab.Client, db_file: Path
) -> None:
    wf = make_workflow(local, [{"name": "a"}])
    agent = local.call("agent_register", name="w", runtime="claude_code")
    with open_ws(server) as ws:
        subscribe(ws, f"workflow:{wf['id']}")
        arguments = json.dumps({"task_id": wf["tasks"]["a"], "agent_id": agent["id"]})
        done = subprocess.run([CAW, "--db", str(db_file), "call", "task_claim", "--json", arguments],
                              capture_output=True, text=True, timeout=120)
        returned = time.monotonic()
        assert done.returncode == 0, done.stderr
        message = until(ws, lambda m: m["type"] == "task:updated", timeout=5)
        assert time.monotonic() - returned < 1.0
    assert message["data"] == {"id": wf["tasks"]["a"], "workflow_id": wf["id"], "action": "claimed",
                               "status": "in_progress", "agent_id": agent["id"]}
    assert message["event"] == "task.claimed" and isinstance(message["seq"], int)


def test_a_resumed_subscription_misses_nothing_and_repeats_nothing(
    server: HttpServer, local: caw_lab.Client
) -> None:
    wf = make_workflow(local, [{"name": f"t{i}"} for i in range(3)])
    agent = local.call("agent_register", name="w", runtime="claude_code", workflow_id=wf["id"])
    with open_ws(server) as ws:
        subscribe(ws, f"workflow:{wf['id']}")
        local.call("task_claim", task_id=wf["tasks"]["t0"], agent_id=agent["id"])
        last = until(ws, lambda m: m.get("event") == "task.claimed")["seq"]

    def churn(rounds: int) -> None:
        with caw_lab.connect(local.db.path) as writer:  # type: ignore[attr-defined]
            for i in range(rounds):
                writer.call("workflow_set_config", id=wf["id"], config={"round": i})

    churn(30)  # while nobody listens
    during = threading.Thread(target=churn, args=(30,))  # and while the resume replays
    with open_ws(server) as ws:
        during.start()
        got = [m["seq"] for m in subscribe(ws, f"workflow:{wf['id']}", since=last) if "seq" in m]
        during.join()
        local.call("workflow_set_config", id=wf["id"], config={"round": "last"})
        final = head(local)
        while not got or got[-1] < final:
            got.append(receive(ws)["seq"])
    expected = [e["seq"] for e in local.call("events_list", since_seq=last, workflow_id=wf["id"])["events"]]
    assert got == expected and len(expected) >= 61


def head(local: caw_lab.Client) -> int:
    return int(local.call("events_list", limit=1)["head"])


def test_presence_lists_who_views_a_workflow(server: HttpServer, local: caw_lab.Client) -> None:
    wf = make_workflow(local, [{"name": "a"}])
    channel = f"workflow:{wf['id']}"
    with open_ws(server) as ada, open_ws(server) as bob:
        ada.send(json.dumps({"type": "hello", "name": "Ada"}))
        subscribe(ada, channel)
        bob.send(json.dumps({"type": "hello", "name": "Bob"}))
        subscribe(bob, channel)
        seen = until(ada, lambda m: m["type"] == "presence" and len(m["data"]["viewers"]) == 2)
        assert sorted(v["name"] for v in seen["data"]["viewers"]) == ["Ada", "Bob"]
        bob.close()
        alone = until(ada, lambda m: m["type"] == "presence" and len(m["data"]["viewers"]) == 1)
        assert alone["data"]["viewers"][0]["name"] == "Ada"


def test_bad_messages_are_answered_with_errors_and_strangers_are_refused(server: HttpServer) -> None:
    with open_ws(server) as ws:
        for bad in ("not json", "[1]", json.dumps({"type": "subscribe", "channel": "../etc"}),
                    json.dumps({"type": "subscribe", "channel": "global", "since": -1}),
                    json.dumps({"type": "shout"}), "x" * 20_000):
            ws.send(bad)
            assert until(ws, lambda m: m["type"] in ("error", "subscribed"))["data"]["code"] == "INVALID_INPUT"
        ws.send(json.dumps({"type": "ping"}))
        assert until(ws, lambda m: m["type"] == "pong")
    url = server.url.replace("http://", "ws://") + "/ws"
    for headers in ({}, {"Authorization": "Bearer wrong"},
                    {"Authorization": f"Bearer {server.token}", "Origin": "http://evil.example"}):
        with pytest.raises(InvalidStatus):
            connect(url, additional_headers=headers, open_timeout=30)
    with connect(f"{url}?token={server.token}", open_timeout=30) as scripted:
        assert receive(scripted)["type"] == "welcome"


AGENT_SCRIPT = textwrap.dedent("""
    import sys, time
    for i in range(12):
        print(f"step {i} of the agent", flush=True)
        time.sleep(0.25)
    print("finished printing", file=sys.stderr, flush=True)
    time.sleep(60)
""")


def test_agent_log_lines_stream_while_the_agent_runs_and_stay_readable(
    server: HttpServer, local: caw_lab.Client, db_file: Path, tmp_path: Path
) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT_SCRIPT)
    wf = make_workflow(local, [{"name": "logged"}])
    task_id = wf["tasks"]["logged"]
    local.call("workflow_set_config", id=wf["id"], config={"execution": {"runtime": "subprocess",
                                                                           "poll_interval_ms": 50}})
    executor = Executor(str(db_file), wf["id"], runtimes={"subprocess": SubprocessRuntime([sys.executable,
                                                                                           str(script)])},
                        connect=caw_lab.connect)
    runner = threading.Thread(target=executor.run)
    with open_ws(server) as ws:
        subscribe(ws, f"workflow:{wf['id']}")
        runner.start()
        lines: list[str] = []
        first_at = None
        while "finished printing" not in lines:
            message = until(ws, lambda m: m["type"] == "agent:log", timeout=30)
            assert message["data"]["task_id"] == task_id and message["data"]["attempt"] == 1
            first_at = first_at or time.monotonic()
            lines += message["data"]["lines"]
        assert runner.is_alive(), "the lines arrived while the agent ran"
    executor.request_stop()
    runner.join(60)
    assert lines == [f"step {i} of the agent" for i in range(12)] + ["finished printing"]
    logs = httpx.get(f"{server.url}/api/tasks/{task_id}/logs", headers=server.headers).json()["data"]
    assert logs["text"].splitlines() == lines and logs["attempt"] == 1
    assert logs["attempts"][0]["agent_id"].startswith("ag_")
    assert local.call("task_logs", task_id=task_id, offset=-18)["text"] == "finished printing\n"
