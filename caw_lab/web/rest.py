"""The reference's REST API (its docs/rest-api.md), each route a thin call into the tool registry.

A route names a tool and says where its arguments come from: the path (``/api/tasks/{id}``
gives ``task_id`` or ``id``), the query string (filters; a list parameter takes
``?status=a,b`` or repeated keys), the JSON body, and the few reshapings the reference's
bodies need (its workflow plan body is the plan itself; its template apply says
``repo_paths``). The tool validates everything, so a route adds no rule of its own and
every surface refuses the same input the same way. Success is ``{"data": ...}`` (with
``"meta"`` beside a list, as the reference's ``ok(list, meta)``), created resources 201;
a refusal is ``{"error": <CawError>}`` with the status ``status.http_status`` gives its code.

Every tool also answers at ``/api/tools/<name>`` (POST with the arguments as the body; GET
with them as the query, read-only tools only), so ours reach HTTP under the same conventions
without a hand-written route each.
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from pydantic.fields import FieldInfo
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caw_lab.errors import CawError, invalid_input
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool, get_tool, load_all
from caw_lab.web.status import http_status

log = logging.getLogger(__name__)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RESERVED_QUERY = frozenset({"token"})
"""Query keys that are the transport's, never a tool's (the one-time ``?token=``)."""

Reshape = Callable[[dict[str, Any]], dict[str, Any]]


def nest(key: str) -> Reshape:
    """The reference sends a plan as the body itself; our tool takes it under ``key``."""

    def reshape(body: dict[str, Any]) -> dict[str, Any]:
        if key in body:
            return body
        session = {"session_id": body.pop("session_id")} if "session_id" in body else {}
        return {key: body, **session}

    return reshape


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    tool: str
    summary: str
    path_args: Mapping[str, str] = field(default_factory=dict)
    """Path parameter -> tool argument (``{"id": "task_id"}``)."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Arguments the route always passes (``include_tasks`` for the workflow's task list)."""
    renames: Mapping[str, str] = field(default_factory=dict)
    """The reference's names for our arguments (``repo_paths`` -> ``repository_paths``)."""
    reshape: Reshape | None = None
    pick: str | None = None
    """The result key that is ``data``; its other keys become ``meta``."""
    created: bool = False


E = Endpoint
ID, WF, TASK, AGENT = {"id": "id"}, {"id": "workflow_id"}, {"id": "task_id"}, {"id": "agent_id"}
REFERENCE: tuple[Endpoint, ...] = (
    # workflows
    E("GET", "/api/workflows", "workflow_list", "List workflows (?status=, ?limit=, ?offset=)", pick="workflows"),
    E("POST", "/api/workflows", "workflow_create", "Create a workflow", created=True),
    E("GET", "/api/workflows/{id}", "workflow_get", "Get a workflow with its tasks", ID, {"include_tasks": True}),
    E("PUT", "/api/workflows/{id}/status", "workflow_update_status", "Update a workflow's status", ID),
    E("PUT", "/api/workflows/{id}/plan", "workflow_set_plan", "Set a workflow's plan", ID, reshape=nest("plan")),
    # tasks
    E("GET", "/api/workflows/{id}/tasks", "workflow_get", "List a workflow's tasks", ID, {"include_tasks": True},
      pick="tasks"),
    E("GET", "/api/tasks/{id}", "task_get", "Get a task (?checkpoints=true)", ID,
      renames={"checkpoints": "include_checkpoints"}),
    E("PUT", "/api/tasks/{id}/status", "task_update_status", "Update a task's status", ID),
    E("PUT", "/api/tasks/{id}/plan", "task_set_plan", "Set a task's plan", ID),
    E("POST", "/api/tasks/{id}/claim", "task_claim", "Claim a task for an agent", TASK),
    E("POST", "/api/tasks/{id}/release", "task_release", "Release a claimed task", TASK),
    E("GET", "/api/tasks/{id}/dependencies", "task_check_dependencies", "A task's dependencies", TASK),
    E("GET", "/api/tasks/{id}/checkpoints", "checkpoint_list", "List a task's checkpoints", TASK,
      pick="checkpoints"),
    E("POST", "/api/tasks/{id}/checkpoints", "checkpoint_add", "Add a checkpoint", TASK, created=True),
    # orchestration
    E("GET", "/api/workflows/{id}/next-tasks", "workflow_next_tasks", "Next available tasks", WF),
    E("GET", "/api/workflows/{id}/progress", "workflow_progress", "Workflow progress", WF),
    # agents
    E("GET", "/api/agents", "agent_list", "List agents (?status=, ?role=, ?workflow_id=)", pick="agents"),
    E("POST", "/api/agents", "agent_register", "Register an agent", created=True),
    E("GET", "/api/agents/{id}", "agent_get", "Get an agent", ID),
    E("PUT", "/api/agents/{id}", "agent_update", "Update an agent", ID),
    E("PUT", "/api/agents/{id}/heartbeat", "agent_heartbeat", "Agent heartbeat", AGENT),
    E("DELETE", "/api/agents/{id}", "agent_unregister", "Unregister an agent", ID),
    # messages
    E("GET", "/api/messages", "message_list", "List every agent's messages", pick="messages"),
    E("POST", "/api/messages", "message_send", "Send a message", created=True),
    E("GET", "/api/messages/unread/count", "message_count_unread", "Count all unread messages"),
    E("PUT", "/api/messages/mark-read", "message_mark_read", "Mark messages read"),
    E("POST", "/api/messages/broadcast", "message_broadcast", "Broadcast a message", created=True),
    E("GET", "/api/messages/{id}", "message_get", "Get a message (?mark_read=true)", ID, {"mark_read": False}),
    E("GET", "/api/threads/{id}", "message_list", "Get a message thread", {"id": "thread_id"}, pick="messages"),
    E("GET", "/api/agents/{id}/messages", "message_list", "List an agent's messages", AGENT, pick="messages"),
    E("GET", "/api/agents/{id}/messages/unread", "message_count_unread", "Count an agent's unread", AGENT),
    # workspaces
    E("GET", "/api/workflows/{id}/workspaces", "workspace_list", "List a workflow's workspaces", WF,
      pick="workspaces"),
    E("POST", "/api/workspaces", "workspace_create", "Create a workspace", created=True,
      renames={"repository_path": "repo_path"}),
    E("POST", "/api/workflows/{id}/workspaces", "workspace_create", "Create a workspace in a workflow", WF,
      created=True, renames={"repository_path": "repo_path"}),
    E("GET", "/api/workspaces/{id}", "workspace_get", "Get a workspace", ID),
    E("PUT", "/api/workspaces/{id}", "workspace_update", "Update a workspace", ID),
    # templates
    E("GET", "/api/templates", "template_list", "List templates", pick="templates"),
    E("POST", "/api/templates", "template_create", "Create a template", created=True),
    E("GET", "/api/templates/{id}", "template_get", "Get a template", {"id": "template_id"}),
    E("POST", "/api/templates/{id}/apply", "template_apply", "Apply a template (creates a workflow)",
      {"id": "template_id"}, created=True,
      renames={"repo_paths": "repository_paths", "max_parallel": "max_parallel_tasks"}),
    # locks
    E("GET", "/api/workflows/{id}/lock", "workflow_lock_info", "Get lock info", ID),
    E("POST", "/api/workflows/{id}/lock", "workflow_lock", "Lock a workflow", ID),
    E("POST", "/api/workflows/{id}/unlock", "workflow_unlock", "Unlock a workflow", ID),
)
OURS: tuple[Endpoint, ...] = (
    E("GET", "/api/tasks/{id}/logs", "task_logs", "A task's agent logs, per attempt (?attempt=, ?offset=)", TASK),
    E("GET", "/api/events", "events_list", "The change feed after a cursor (?since_seq=)"),
)
ENDPOINTS = REFERENCE + OURS


def wants_list(info: FieldInfo) -> bool:
    """Whether a tool argument is a list, so a query value ``a,b`` is split."""
    annotation = info.annotation
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(typing.get_origin(option) is list for option in options)


def query_arguments(request: Request, tool: str) -> dict[str, Any]:
    fields = get_tool(tool).params.model_fields
    args: dict[str, Any] = {}
    for key in dict.fromkeys(request.query_params.keys()):
        if key in RESERVED_QUERY:
            continue
        values = request.query_params.getlist(key)
        info = fields.get(key)
        if info is not None and wants_list(info):
            args[key] = [part for value in values for part in value.split(",") if part]
        else:
            args[key] = values[-1]
    return args


async def body_arguments(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_input("The request body is not JSON", "Send a JSON object as the body.") from None
    if not isinstance(body, dict):
        raise invalid_input(f"The request body must be a JSON object, not {type(body).__name__}",
                            "Send the arguments as a JSON object.")
    return body


async def arguments(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    args = query_arguments(request, endpoint.tool)
    if endpoint.method in BODY_METHODS:
        args.update(await body_arguments(request))
    for theirs, ours in endpoint.renames.items():
        if theirs in args:
            args.setdefault(ours, args.pop(theirs))
    if endpoint.reshape is not None:
        args = endpoint.reshape(args)
    args = {**endpoint.fixed, **args} if endpoint.method == "GET" else {**args, **endpoint.fixed}
    args.update({ours: request.path_params[theirs] for theirs, ours in endpoint.path_args.items()})
    return args


def envelope(endpoint: Endpoint, result: Any) -> dict[str, Any]:
    if endpoint.pick and isinstance(result, dict) and endpoint.pick in result:
        meta = {key: value for key, value in result.items() if key != endpoint.pick}
        return {"data": result[endpoint.pick], "meta": meta} if meta else {"data": result[endpoint.pick]}
    return {"data": result}


def error_response(error: CawError) -> JSONResponse:
    return JSONResponse({"error": error.to_dict()}, status_code=http_status(error.code))


async def run(db: Backend, tool: str, args: dict[str, Any]) -> Any:
    """Tools are synchronous and may wait on the database: a worker thread each, the loop stays free."""
    return await anyio.to_thread.run_sync(call_tool, db, tool, args)


async def answer(db: Backend, endpoint: Endpoint, request: Request) -> Response:
    try:
        result = await run(db, endpoint.tool, await arguments(endpoint, request))
    except CawError as error:
        return error_response(error)
    except Exception:
        log.exception("%s %s failed", endpoint.method, endpoint.path)
        return error_response(CawError("INTERNAL_ERROR", "The server failed to answer this request",
                                       recoverable=True, suggestion="Try again; the server log says more."))
    return JSONResponse(envelope(endpoint, result), status_code=201 if endpoint.created else 200)


def method_not_allowed(method: str, allowed: list[str]) -> Response:
    error = CawError("METHOD_NOT_ALLOWED", f"{method} is not allowed here", recoverable=False,
                     suggestion=f"Use {', '.join(allowed)}.")
    response = error_response(error)
    response.headers["Allow"] = ", ".join(allowed)
    return response


def path_route(db: Backend, path: str, endpoints: list[Endpoint]) -> Route:
    """One route per path, answering every method, so a wrong one gets the JSON 405 and not Starlette's text."""
    by_method = {e.method: e for e in endpoints}

    async def dispatch(request: Request) -> Response:
        endpoint = by_method.get(request.method)
        if endpoint is None:
            return method_not_allowed(request.method, sorted(by_method))
        return await answer(db, endpoint, request)

    return Route(path, dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def tool_routes(db: Backend) -> list[Route]:
    """``/api/tools``: the registry itself, and every tool by name."""

    async def listing(request: Request) -> Response:
        tools = load_all()
        return JSONResponse({"data": [
            {"name": t.name, "description": t.description, "read_only": bool(t.hints and t.hints.read_only),
             "path": f"/api/tools/{t.name}"} for t in sorted(tools.values(), key=lambda t: t.name)]})

    async def by_name(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            spec = get_tool(name)
        except CawError as error:
            return error_response(error)
        read_only = bool(spec.hints and spec.hints.read_only)
        allowed = ["GET", "POST"] if read_only else ["POST"]
        if request.method not in allowed:
            return method_not_allowed(request.method, allowed)
        return await answer(db, Endpoint(request.method, "/api/tools/{name}", name, spec.description), request)

    return [Route("/api/tools", listing, methods=["GET"]),
            Route("/api/tools/{name}", by_name, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]


def not_found_route() -> Route:
    async def missing(request: Request) -> Response:
        return error_response(CawError("NOT_FOUND", f"No API route {request.method} {request.url.path}",
                                       suggestion="See /api/openapi.json for the routes."))

    return Route("/api/{rest:path}", missing, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def routes(db: Backend) -> list[Route]:
    paths: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, []).append(endpoint)
    return [*(path_route(db, path, group) for path, group in paths.items()), *tool_routes(db)]
