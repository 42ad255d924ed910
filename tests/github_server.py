"""A local stand-in for GitHub's REST API, speaking its real protocol (paths, bearer token,
JSON shapes, status codes, error bodies, ``Link`` pagination) for the parts caw-lab calls:
issues (read, comment, close), pull requests (open, read, merge) and check runs. GitHub
itself cannot be reached from the test machines.

Given the bare repository the pushes go to (``bare``), it merges as GitHub does: a pull
request's ``mergeable`` is what ``git merge-tree`` says of its head and base there, and a
merge writes the merge (or squash) commit onto the base branch in that repository.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_session import free_port

TOKEN = "ghp_standin"
DOCS = "https://docs.github.com/rest"


@dataclass
class Forge:
    url: str = ""
    bare: Path | None = None
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: list[tuple[str, int, str]] = field(default_factory=list)
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Check runs by head branch."""
    ci: Callable[[str], list[dict[str, Any]]] | None = None
    """Check runs of a commit (given its sha), as a CI running on it would report them; wins over ``checks``."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    fault: tuple[int, str] | None = None
    """Every request answered with this status and raw body while set."""
    refuse_pulls: bool = False

    def add_issue(self, repo: str, number: int, title: str, body: str | None, pull: bool = False,
                  labels: tuple[str, ...] = ()) -> None:
        issue = {"number": number, "title": title, "body": body, "state": "open",
                 "html_url": f"https://github.com/{repo}/issues/{number}",
                 "labels": [{"id": i, "name": name} for i, name in enumerate(labels)]}
        if pull:
            issue["pull_request"] = {"url": f"{self.url}/repos/{repo}/pulls/{number}"}
        self.issues[(repo.lower(), number)] = issue

    def pull_for(self, head: str) -> dict[str, Any]:
        return next(p for p in self.pulls if p["head"]["ref"] == head)


def git(bare: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(bare), *args], capture_output=True, text=True, check=False)


def app(forge: Forge) -> Starlette:
    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"message": message, "documentation_url": DOCS, **extra}, status_code=status)

    def gate(request: Request) -> Response | None:
        forge.requests.append((request.method, request.url.path, request.headers.get("authorization")))
        if forge.fault:
            return Response(forge.fault[1], status_code=forge.fault[0], media_type="application/json")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Bad credentials")
        return None

    def repo_of(request: Request) -> str:
        return f"{request.path_params['owner']}/{request.path_params['repo']}"

    def issue_of(request: Request) -> dict[str, Any] | None:
        return forge.issues.get((repo_of(request).lower(), int(request.path_params["number"])))

    async def issue(request: Request) -> Response:
        if refused := gate(request):
            return refused
        found = issue_of(request)
        if found is None:
            return error(404, "Not Found")
        if request.method == "PATCH":
            body = await request.json()
            found["state"] = body.get("state", found["state"])
            found["state_reason"] = body.get("state_reason")
        return JSONResponse(found)

    async def comments(request: Request) -> Response:
        if refused := gate(request):
            return refused
        found = issue_of(request)
        if found is None:
            return error(404, "Not Found")
        body = (await request.json()).get("body")
        if not body:
            return error(422, "Validation Failed", errors=[{"resource": "IssueComment", "code": "missing_field",
                                                            "field": "body"}])
        forge.comments.append((repo_of(request), found["number"], body))
        return JSONResponse({"id": len(forge.comments), "body": body}, status_code=201)

    def mergeable(pull: dict[str, Any]) -> bool | None:
        if forge.bare is None:
            return True
        merged = git(forge.bare, "merge-tree", "--write-tree", pull["base"]["ref"], pull["head"]["ref"])
        return merged.returncode == 0

    def shown(pull: dict[str, Any]) -> dict[str, Any]:
        head_sha = git(forge.bare, "rev-parse", pull["head"]["ref"]).stdout.strip() if forge.bare else "0" * 40
        pull["head"]["sha"] = head_sha or None
        if not pull["merged"]:
            pull["mergeable"] = mergeable(pull)
        return {k: v for k, v in pull.items() if k != "repo"}

    async def pulls(request: Request) -> Response:
        if refused := gate(request):
            return refused
        body = await request.json()
        repo = repo_of(request)
        missing = [key for key in ("title", "head", "base") if not body.get(key)]
        if missing:
            reasons = [{"resource": "PullRequest", "field": key, "code": "missing_field"} for key in missing]
            return error(422, "Validation Failed", errors=reasons)
        if forge.refuse_pulls or any(p["repo"] == repo and p["head"]["ref"] == body["head"] for p in forge.pulls):
            exists = f"A pull request already exists for {request.path_params['owner']}:{body['head']}."
            return error(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom",
                                                            "message": exists}])
        number = 100 + len(forge.pulls)
        pull = {"number": number, "html_url": f"https://github.com/{repo}/pull/{number}", "state": "open",
                "title": body["title"], "body": body.get("body"), "draft": bool(body.get("draft")),
                "merged": False, "mergeable": None, "merge_commit_sha": None,
                "head": {"ref": body["head"]}, "base": {"ref": body["base"]}, "repo": repo}
        forge.pulls.append(pull)
        return JSONResponse(shown(pull), status_code=201)

    def pull_of(request: Request) -> dict[str, Any] | None:
        number, repo = int(request.path_params["number"]), repo_of(request)
        return next((p for p in forge.pulls if p["number"] == number and p["repo"] == repo), None)

    async def pull(request: Request) -> Response:
        if refused := gate(request):
            return refused
        found = pull_of(request)
        return JSONResponse(shown(found)) if found else error(404, "Not Found")

    async def merge(request: Request) -> Response:
        if refused := gate(request):
            return refused
        found = pull_of(request)
        if found is None:
            return error(404, "Not Found")
        method = (await request.json()).get("merge_method", "merge")
        if found["merged"] or not mergeable(found):
            return error(405, "Pull Request is not mergeable")
        base, head = found["base"]["ref"], found["head"]["ref"]
        tree = git(forge.bare, "merge-tree", "--write-tree", base, head).stdout.split()[0]
        parents = ["-p", base] if method == "squash" else ["-p", base, "-p", head]
        sha = git(forge.bare, "commit-tree", tree, *parents, "-m", f"{found['title']} (#{found['number']})",
                  ).stdout.strip()
        git(forge.bare, "update-ref", f"refs/heads/{base}", sha)
        found.update(merged=True, state="closed", merge_commit_sha=sha, mergeable=None)
        return JSONResponse({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    async def check_runs(request: Request) -> Response:
        if refused := gate(request):
            return refused
        ref = request.path_params["ref"]
        runs = next((runs for head, runs in forge.checks.items()
                     if ref == head or any(p["head"].get("sha") == ref and p["head"]["ref"] == head
                                           for p in forge.pulls)), [])
        if forge.ci is not None and forge.bare is not None:
            sha = git(forge.bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").stdout.strip()
            runs = forge.ci(sha) if sha else []
        per_page = int(request.query_params.get("per_page", 30))
        page = int(request.query_params.get("page", 1))
        shown_runs = runs[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(runs):
            headers["Link"] = (f'<{forge.url}{request.url.path}?per_page={per_page}&page={page + 1}>; rel="next", '
                               f'<{forge.url}{request.url.path}?per_page={per_page}&page=1>; rel="first"')
        return JSONResponse({"total_count": len(runs), "check_runs": shown_runs}, headers=headers)

    prefix = "/repos/{owner}/{repo}"
    return Starlette(routes=[
        Route(f"{prefix}/issues/{{number:int}}", issue, methods=["GET", "PATCH"]),
        Route(f"{prefix}/issues/{{number:int}}/comments", comments, methods=["POST"]),
        Route(f"{prefix}/pulls", pulls, methods=["POST"]),
        Route(f"{prefix}/pulls/{{number:int}}", pull, methods=["GET"]),
        Route(f"{prefix}/pulls/{{number:int}}/merge", merge, methods=["PUT"]),
        Route(f"{prefix}/commits/{{ref:path}}/check-runs", check_runs, methods=["GET"]),
    ])


@contextmanager
def serving(application: Starlette) -> Iterator[str]:
    """``application`` served on a free loopback port for the block; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the forge stand-in did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running_forge(bare: Path | None = None) -> Iterator[Forge]:
    forge = Forge(bare=bare)
    with serving(app(forge)) as url:
        forge.url = url
        yield forge
