"""Eight agents race through a 160-task workflow over each transport: every task is completed
exactly once and the only refusals are the expected claim conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import caw_lab
from conftest import make_workflow
from mcp_session import http_server

WORKERS = 8
TASKS = 160
WORKER = str(Path(__file__).with_name("mcp_worker.py"))

pytestmark = pytest.mark.slow


def race(transport: str, target: str, workflow_id: str) -> list[dict]:
    workers = [
        subprocess.Popen([sys.executable, WORKER, transport, target, workflow_id, str(i), str(WORKERS)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(WORKERS)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def check(client: caw_lab.Client, workflow_id: str, reports: list[dict]) -> None:
    assert [r["errors"] for r in reports] == [[]] * WORKERS
    done = Counter(task for r in reports for task in r["completed"])
    assert len(done) == TASKS and set(done.values()) == {1}
    tasks = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]
    assert {t["status"] for t in tasks} == {"completed"}
    assert done == Counter(t["id"] for t in tasks)
    completions = client.call("events_list", workflow_id=workflow_id, kinds=["task.status"], limit=10000)["events"]
    finished = Counter(e["task_id"] for e in completions if e["payload"]["to"] == "completed")
    assert finished == done
    assert client.call("workflow_get", id=workflow_id)["status"] == "completed"


def many_tasks(client: caw_lab.Client) -> str:
    return make_workflow(client, [{"name": f"t{i}"} for i in range(TASKS)], max_parallel_tasks=WORKERS)["id"]


def test_stdio_servers_sharing_one_database(db_path: Path, client: caw_lab.Client) -> None:
    workflow_id = many_tasks(client)
    check(client, workflow_id, race("stdio", str(db_path), workflow_id))


def test_clients_sharing_one_http_server(db_path: Path, client: caw_lab.Client) -> None:
    workflow_id = many_tasks(client)
    with http_server(db_path) as server:
        reports = race("http", server.url, workflow_id)
    check(client, workflow_id, reports)
