"""A local stand-in for GitHub's REST API, speaking its real protocol (paths, bearer token,
JSON shapes, status codes and error bodies) for the parts caw-lab calls: read an issue, open
a pull request. GitHub itself cannot be reached from the test machines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_session import free_port

TOKEN = "ghp_standin"
DOCS = "https://docs.github.com/rest"


@dataclass
class Forge:
    url: str = ""
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def add_issue(self, repo: str, number: int, title: str, body: str | None, pull: bool = False) -> None:
        issue = {"number": number, "title": title, "body": body, "state": "open",
                 "html_url": f"https://github.com/{repo}/issues/{number}"}
        if pull:
            issue["pull_request"] = {"url": f"{self.url}/repos/{repo}/pulls/{number}"}
        self.issues[(repo.lower(), number)] = issue


def app(forge: Forge) -> Starlette:
    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"message": message, "documentation_url": DOCS, **extra}, status_code=status)

    def seen(request: Request) -> None:
        forge.requests.append((request.method, request.url.path, request.headers.get("authorization")))

    async def issue(request: Request) -> JSONResponse:
        seen(request)
        p = request.path_params
        found = forge.issues.get((f"{p['owner']}/{p['repo']}".lower(), int(p["number"])))
        return JSONResponse(found) if found else error(404, "Not Found")

    async def pulls(request: Request) -> JSONResponse:
        seen(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Bad credentials")
        body = await request.json()
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        missing = [key for key in ("title", "head", "base") if not body.get(key)]
        if missing:
            reasons = [{"resource": "PullRequest", "field": key, "code": "missing_field"} for key in missing]
            return error(422, "Validation Failed", errors=reasons)
        if any(p["repo"] == repo and p["head"]["ref"] == body["head"] for p in forge.pulls):
            exists = f"A pull request already exists for {request.path_params['owner']}:{body['head']}."
            return error(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom",
                                                            "message": exists}])
        number = 100 + len(forge.pulls)
        pull = {"number": number, "html_url": f"https://github.com/{repo}/pull/{number}", "state": "open",
                "title": body["title"], "body": body.get("body"), "draft": bool(body.get("draft")),
                "head": {"ref": body["head"]}, "base": {"ref": body["base"]}, "repo": repo}
        forge.pulls.append(pull)
        return JSONResponse(pull, status_code=201)

    return Starlette(routes=[
        Route("/repos/{owner}/{repo}/issues/{number:int}", issue, methods=["GET"]),
        Route("/repos/{owner}/{repo}/pulls", pulls, methods=["POST"]),
    ])


@contextmanager
def running_forge() -> Iterator[Forge]:
    forge = Forge()
    port = free_port()
    forge.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(app(forge), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the GitHub stand-in did not start")
        time.sleep(0.02)
    try:
        yield forge
    finally:
        server.should_exit = True
        thread.join(timeout=10)
