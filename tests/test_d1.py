"""The D1 backend: the REST protocol against a real local D1, and its retry rules
against a local server that misbehaves on purpose."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import caw_lab
from caw_lab.store.backend import Statement
from caw_lab.store.d1 import D1Backend


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 until ``failures`` run out, then a D1-shaped success; counts requests."""

    failures = 0
    requests = 0

    def do_POST(self) -> None:  # http.server's naming
        type(self).requests += 1
        self.rfile.read(int(self.headers["content-length"]))
        if type(self).failures > 0:
            type(self).failures -= 1
            body, status = {"success": False, "errors": [{"message": "overloaded"}]}, 503
        else:
            body, status = {"success": True, "result": [{"results": [{"x": 1}], "success": True}]}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.failures, Flaky.requests = 0, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/client/v4"
    server.shutdown()


def test_reads_are_retried_on_server_errors(flaky: str) -> None:
    Flaky.failures = 2
    backend = D1Backend("acct", "db", "token", flaky)
    assert backend.query("SELECT 1 AS x") == [{"x": 1}]
    assert Flaky.requests == 3


def test_writes_are_never_sent_twice(flaky: str) -> None:
    Flaky.failures = 1
    backend = D1Backend("acct", "db", "token", flaky)
    with pytest.raises(caw_lab.CawError) as info:
        backend.batch([Statement("UPDATE t SET x = 1")])
    assert info.value.code == "DATABASE_ERROR" and "overloaded" in info.value.message
    assert Flaky.requests == 1


def test_bad_urls_and_missing_token_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAW_D1_TOKEN", raising=False)
    for url in ("d1://", "d1://acct", "d1://acct/db/extra", "http://acct/db"):
        with pytest.raises(caw_lab.CawError, match="Not a D1 URL"):
            D1Backend.from_url(url)
    with pytest.raises(caw_lab.CawError) as info:
        D1Backend.from_url("d1://acct/db")
    assert info.value.code == "D1_TOKEN_MISSING"


def test_engine_runs_on_real_local_d1(d1_client: caw_lab.Client) -> None:
    wf = d1_client.call("workflow_create", name="remote", source_type="prompt", source_content="x")
    plan = {"summary": "s", "tasks": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}
    d1_client.call("workflow_set_plan", id=wf["id"], plan=plan)
    tasks = d1_client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
    assert [t["status"] for t in tasks] == ["pending", "blocked"]
    assert [e["kind"] for e in d1_client.call("events_list")["events"]] == ["workflow.created", "workflow.plan_set"]


def test_sql_errors_surface_with_d1_message_and_roll_back(d1_client: caw_lab.Client) -> None:
    db = d1_client.db
    before = db.scalar("SELECT COUNT(*) FROM events")
    with pytest.raises(caw_lab.CawError) as info:
        db.batch([
            Statement("INSERT INTO events (at, kind, correlation_id) VALUES (1, 'x', 'y')"),
            Statement("INSERT INTO no_such_table VALUES (1)"),
        ])
    assert info.value.code == "DATABASE_ERROR" and "no such table" in info.value.message
    assert db.scalar("SELECT COUNT(*) FROM events") == before


def test_wrong_token_is_unauthorized(local_d1: Any, fresh_d1_database: str) -> None:
    backend = D1Backend("local", fresh_d1_database, "wrong-token", local_d1.api)
    with pytest.raises(caw_lab.CawError) as info:
        backend.query("SELECT 1")
    assert info.value.code == "D1_UNAUTHORIZED"
