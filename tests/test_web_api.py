"""The REST API: every route of the reference's docs/rest-api.md against a real ``caw --server``.

One server per module (starting one is most of the cost); each test builds the rows it needs.
The walk-through goes route by route in the order an agent's life uses them and checks the
status code and the JSON shape; the tables after it send every route without the token, with
a body that is not a JSON object, and with ids that name nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import caw_lab
from caw_lab.tools import MAX_TEXT_BYTES
from caw_lab.web.rest import REFERENCE
from conftest import dump
from mcp_session import HttpServer, http_server

REFERENCE_ROUTES = {(e.method, e.path) for e in REFERENCE}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    root = tmp_path_factory.mktemp("web")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAW_ALLOWED_ROOTS", str(root))
        with http_server(root / "workflows.db") as running:
            yield running


@pytest.fixture
def api(server: HttpServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api", headers=server.headers, timeout=30) as client:
        yield client


@pytest.fixture
def db(server: HttpServer) -> Iterator[caw_lab.Client]:
    with caw_lab.connect(Path(server_db(server))) as client:
        yield client


def server_db(server: HttpServer) -> str:
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--db") + 1])


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["data"]


def refused(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "recoverable", "suggestion"}
    if code is not None:
        assert error["code"] == code, error
    return error


def test_the_walk_through_covers_every_reference_route(api: httpx.Client, server: HttpServer) -> None:
    seen: set[tuple[str, str]] = set()

    def call(method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        route = next(p for m, p in REFERENCE_ROUTES if m == method and re.fullmatch(
            re.sub(r"\{\w+\}", r"[^/]+", p), f"/api{path}"))
        seen.add((method, route))
        return ok(api.request(method, path, **kwargs), status)

    wf = call("POST", "/workflows", 201, json={"name": "web", "source_type": "prompt", "source_content": "do it"})
    assert wf["status"] == "planning" and wf["id"].startswith("wf_")
    listed = api.get("/workflows", params={"status": "planning,ready"}).json()
    call("GET", "/workflows", params={"status": "planning"})
    assert wf["id"] in [w["id"] for w in listed["data"]] and listed["meta"]["total"] >= 1
    plan = {"summary": "two steps", "tasks": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}
    call("PUT", f"/workflows/{wf['id']}/plan", json=plan)
    full = call("GET", f"/workflows/{wf['id']}")
    assert full["status"] == "ready" and [t["name"] for t in full["tasks"]] == ["a", "b"]
    tasks = call("GET", f"/workflows/{wf['id']}/tasks")
    a, b = (t["id"] for t in tasks)
    assert call("GET", f"/workflows/{wf['id']}/next-tasks")["tasks"][0]["id"] == a
    assert call("GET", f"/workflows/{wf['id']}/progress")["total_tasks"] == 2

    agent = call("POST", "/agents", 201, json={"name": "worker", "runtime": "claude_code", "workflow_id": wf["id"]})
    rival = call("POST", "/agents", 201, json={"name": "rival", "runtime": "codex"})
    assert agent["id"] in [x["id"] for x in call("GET", "/agents", params={"status": "online", "role": "worker"})]
    assert call("GET", "/agents", params={"workflow_id": wf["id"]})[0]["id"] == agent["id"]
    assert call("GET", f"/agents/{agent['id']}")["name"] == "worker"
    call("PUT", f"/agents/{agent['id']}", json={"metadata": {"host": "here"}})
    assert call("PUT", f"/agents/{agent['id']}/heartbeat", json={})["success"] is True

    assert call("POST", f"/tasks/{a}/claim", json={"agent_id": agent["id"]})["success"] is True
    assert call("GET", f"/tasks/{a}", params={"checkpoints": "true"})["assigned_agent_id"] == agent["id"]
    assert call("PUT", f"/tasks/{a}/status", json={"status": "planning"})["success"]
    call("PUT", f"/tasks/{a}/plan", json={"plan": {"approach": "carefully", "steps": ["one"]}})
    added = call("POST", f"/tasks/{a}/checkpoints", 201, json={"type": "progress", "summary": "half way"})
    assert added["id"].startswith("cp_")
    assert [c["summary"] for c in call("GET", f"/tasks/{a}/checkpoints", params={"limit": 5})] == ["half way"]
    assert call("GET", f"/tasks/{b}/dependencies")["satisfied"] is False
    assert call("PUT", f"/tasks/{a}/status", json={"status": "completed", "outcome": "done"})["success"]
    call("POST", f"/tasks/{b}/claim", json={"agent_id": rival["id"]})
    assert call("POST", f"/tasks/{b}/release", json={"agent_id": rival["id"], "reason": "later"})["success"]
    assert call("PUT", f"/workflows/{wf['id']}/status", json={"status": "paused"})["status"] == "paused"

    sent = call("POST", "/messages", 201, json={"sender_id": agent["id"], "recipient_id": rival["id"],
                                                 "message_type": "status_update", "body": "hi"})
    assert sent["id"] in [m["id"] for m in call("GET", "/messages")]
    assert call("GET", "/messages/unread/count")["count"] >= 1
    assert [m["id"] for m in call("GET", f"/agents/{rival['id']}/messages", params={"status": "unread"})] \
        == [sent["id"]]
    assert call("GET", f"/agents/{rival['id']}/messages/unread")["count"] == 1
    assert call("GET", f"/messages/{sent['id']}")["status"] == "unread"
    assert [m["id"] for m in call("GET", f"/threads/{sent['thread_id']}")] == [sent["id"]]
    assert call("PUT", "/messages/mark-read", json={"message_ids": [sent["id"]]})["updated"] == 1
    assert call("GET", f"/agents/{rival['id']}/messages/unread")["count"] == 0
    assert call("POST", "/messages/broadcast", 201, json={"sender_id": agent["id"], "message_type": "broadcast",
                                                           "body": "all"})["sent_count"] == 1

    root = Path(server_db(server)).parent
    space = call("POST", "/workspaces", 201, json={"workflow_id": wf["id"], "branch": "feat", "path": str(root)})
    call("POST", f"/workflows/{wf['id']}/workspaces", 201, json={"branch": "feat2", "path": str(root)})
    assert [w["branch"] for w in call("GET", f"/workflows/{wf['id']}/workspaces")] == ["feat", "feat2"]
    assert call("GET", f"/workspaces/{space['id']}")["branch"] == "feat"
    assert call("PUT", f"/workspaces/{space['id']}", json={"status": "abandoned"})["status"] == "abandoned"

    template = call("POST", "/templates", 201, json={"name": "twostep", "from_workflow_id": wf["id"]})
    assert "twostep" in [t["name"] for t in call("GET", "/templates")]
    assert call("GET", f"/templates/{template['id']}")["name"] == "twostep"
    applied = call("POST", f"/templates/{template['id']}/apply", 201, json={"workflow_name": "again"})
    assert applied["workflow_id"].startswith("wf_")

    assert call("GET", f"/workflows/{wf['id']}/lock")["locked"] is False
    assert call("POST", f"/workflows/{wf['id']}/lock", json={"session_id": "s1"})["success"] is True
    assert call("POST", f"/workflows/{wf['id']}/unlock", json={"session_id": "s1"})["success"] is True
    assert call("DELETE", f"/agents/{rival['id']}")["success"] is True
    assert seen == REFERENCE_ROUTES, sorted(REFERENCE_ROUTES - seen)


@pytest.mark.parametrize(("method", "path"), sorted(REFERENCE_ROUTES))
def test_every_route_without_the_token_is_401_and_changes_nothing(
    server: HttpServer, db: caw_lab.Client, method: str, path: str
) -> None:
    before = dump(db.db)
    url = server.url + path.replace("{id}", "wf_000000000000")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "caw_token=wrong"}):
        answer = httpx.request(method, url, headers=headers, json={"name": "x", "source_type": "prompt"})
        refused(answer, 401, "UNAUTHORIZED")
    assert dump(db.db) == before


BODY_ROUTES = sorted((m, p) for m, p in REFERENCE_ROUTES if m in ("POST", "PUT", "DELETE"))


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_that_is_not_a_json_object_is_422_and_changes_nothing(
    api: httpx.Client, db: caw_lab.Client, method: str, path: str
) -> None:
    before = dump(db.db)
    url = path.removeprefix("/api").replace("{id}", "wf_000000000000")
    for body in (b"{not json", b"[1, 2]", b'"text"', "\ud800".encode("utf-8", "surrogatepass")):
        refused(api.request(method, url, content=body), 422, "INVALID_INPUT")
    assert dump(db.db) == before


NOT_FOUND = [(m, p) for m, p in sorted(REFERENCE_ROUTES) if "{id}" in p]


@pytest.mark.parametrize(("method", "path"), NOT_FOUND)
def test_an_id_that_names_nothing_is_404_or_refused_input(
    api: httpx.Client, db: caw_lab.Client, method: str, path: str
) -> None:
    """With the body a route needs and an unknown id: 404 with a *_NOT_FOUND code; routes that also
    need fields the body lacks may say so first (422); never a success or a 500."""
    before = dump(db.db)
    body = {"status": "completed", "outcome": "x", "agent_id": "ag_000000000000", "session_id": "s",
            "type": "progress", "summary": "s", "plan": {"approach": "a"}, "workflow_name": "w", "tasks": []}
    answer = api.request(method, path.removeprefix("/api").replace("{id}", "xx_000000000000"),
                         json=body if method != "GET" else None)
    if path == "/api/threads/{id}":  # a thread is its messages: an unknown one is empty, as the reference has it
        assert ok(answer) == []
        return
    error = refused(answer, answer.status_code)
    assert answer.status_code in (404, 422), error
    if answer.status_code == 404:
        assert error["code"].endswith("NOT_FOUND")
    assert dump(db.db) == before


def test_invalid_input_and_conflicts_have_their_status(api: httpx.Client, db: caw_lab.Client) -> None:
    wf = ok(api.post("/workflows", json={"name": "c", "source_type": "prompt", "source_content": "x"}), 201)
    refused(api.post("/workflows", json={"name": "c", "source_type": "carrier-pigeon"}), 422, "INVALID_INPUT")
    refused(api.get("/workflows", params={"limit": "many"}), 422, "INVALID_INPUT")
    refused(api.put(f"/workflows/{wf['id']}/status", json={"status": "completed"}), 409, "INVALID_TRANSITION")
    ok(api.post(f"/workflows/{wf['id']}/lock", json={"session_id": "mine"}))
    assert ok(api.post(f"/workflows/{wf['id']}/lock", json={"session_id": "theirs"}))["locked_by"] == "mine"
    refused(api.put(f"/workflows/{wf['id']}/plan", json={"summary": "s", "tasks": [{"name": "x"}],
                                                        "session_id": "theirs"}), 409, "WORKFLOW_LOCKED")
    huge = {"config": {"notes": "x" * (MAX_TEXT_BYTES + 1)}}
    refused(api.post("/tools/workflow_set_config", json={"id": wf["id"], **huge}), 413, "PAYLOAD_TOO_LARGE")
    refused(api.delete("/workflows"), 405, "METHOD_NOT_ALLOWED")
    refused(api.get("/no/such/route"), 404, "NOT_FOUND")


def test_every_tool_answers_under_api_tools(api: httpx.Client) -> None:
    tools = ok(api.get("/tools"))
    assert {"workflow_create", "task_logs", "lease_acquire"} <= {t["name"] for t in tools}
    created = ok(api.post("/tools/workflow_create", json={"name": "t", "source_type": "prompt",
                                                           "source_content": "x"}))
    assert ok(api.get("/tools/workflow_get", params={"id": created["id"]}))["name"] == "t"
    refused(api.get("/tools/workflow_create", params={"name": "t"}), 405, "METHOD_NOT_ALLOWED")
    refused(api.post("/tools/no_such_tool", json={}), 404, "UNKNOWN_TOOL")
    assert ok(api.get("/events", params={"since_seq": 0, "limit": 1}))["events"][0]["seq"] == 1


def test_openapi_describes_every_route_from_the_tools_models(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for method, path in REFERENCE_ROUTES:
        operation = doc["paths"][path][method.lower()]
        assert operation["responses"], path
    create = doc["paths"]["/api/workflows"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][create["$ref"].rsplit("/", 1)[1]]
    assert {"name", "source_type"} <= set(schema["required"])
    listing = {p["name"]: p for p in doc["paths"]["/api/agents"]["get"]["parameters"]}
    assert {"status", "role", "workflow_id"} <= set(listing)
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', __import__("json").dumps(doc))
    assert set(refs) <= set(doc["components"]["schemas"])


def test_a_token_link_becomes_an_http_only_strict_cookie(server: HttpServer) -> None:
    with httpx.Client(base_url=server.url) as browser:
        answer = browser.get("/?token=" + str(server.token) + "&view=dag")
        assert answer.status_code == 303 and answer.headers["location"] == "/?view=dag"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "caw_token=" in cookie
        assert browser.get("/api/workflows").status_code == 200  # the cookie alone now
        assert browser.get("/?token=wrong").status_code == 401
    evil = {"Origin": "http://evil.example", "Cookie": f"caw_token={server.token}"}
    refused(httpx.post(f"{server.url}/api/workflows", headers=evil, json={}), 403, "ORIGIN_NOT_ALLOWED")
    rebound = {"Host": "evil.example", "Authorization": f"Bearer {server.token}"}
    refused(httpx.get(f"{server.url}/api/workflows", headers=rebound), 421, "HOST_NOT_ALLOWED")
