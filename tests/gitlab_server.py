"""A local stand-in for GitLab's REST API (v4), speaking its real protocol for the parts
caw-lab calls: the ``PRIVATE-TOKEN`` header, projects named by their URL-encoded path
(``/api/v4/projects/group%2Fapp/...``), issues (read, notes, close by ``state_event``), merge
requests (open, read, merge; 409 for a second one from a branch, 405 when it cannot be
merged) and their pipelines, with GitLab's JSON shapes and error bodies.

As the GitHub stand-in, given the bare repository the pushes go to it answers
``has_conflicts`` from ``git merge-tree`` and merges onto the target branch there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from github_server import git, serving

TOKEN = "glpat-standin"
HOST = "gitlab.example.com"


@dataclass
class GitLabForge:
    url: str = ""
    bare: Path | None = None
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[str, int, str]] = field(default_factory=list)
    pipelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Pipelines by source branch, newest first."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    fault: tuple[int, str] | None = None

    def add_issue(self, project: str, iid: int, title: str, description: str | None) -> None:
        self.issues[(project, iid)] = {"id": 1000 + iid, "iid": iid, "title": title, "description": description,
                                       "state": "opened", "labels": ["bug"],
                                       "web_url": f"https://{HOST}/{project}/-/issues/{iid}"}


def app(forge: GitLabForge) -> Starlette:
    def error(status: int, message: Any) -> JSONResponse:
        return JSONResponse({"message": message}, status_code=status)

    def gate(request: Request) -> tuple[str | None, Response | None]:
        raw = request.scope["raw_path"].decode()
        forge.requests.append((request.method, raw, request.headers.get("private-token")))
        if forge.fault:
            return None, Response(forge.fault[1], status_code=forge.fault[0], media_type="application/json")
        if request.headers.get("private-token") != TOKEN:
            return None, error(401, "401 Unauthorized")
        encoded = raw.split("/projects/", 1)[1].split("/", 1)[0]
        if "/" in unquote(encoded) and "%2F" not in encoded.upper():
            return None, error(404, "404 Project Not Found")
        return unquote(encoded), None

    async def issue(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        found = forge.issues.get((project, int(request.path_params["iid"])))
        if found is None:
            return error(404, "404 Not found")
        if request.method == "PUT" and (await request.json()).get("state_event") == "close":
            found["state"] = "closed"
        return JSONResponse(found)

    async def notes(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        found = forge.issues.get((project, int(request.path_params["iid"])))
        if found is None:
            return error(404, "404 Not found")
        body = (await request.json()).get("body")
        if not body:
            return error(400, {"body": ["can't be blank"]})
        forge.notes.append((str(project), found["iid"], body))
        return JSONResponse({"id": len(forge.notes), "body": body, "noteable_type": "Issue"}, status_code=201)

    def conflicts(mr: dict[str, Any]) -> bool:
        if forge.bare is None:
            return False
        return git(forge.bare, "merge-tree", "--write-tree", mr["target_branch"], mr["source_branch"]).returncode != 0

    def shown(mr: dict[str, Any]) -> dict[str, Any]:
        if forge.bare is not None:
            mr["sha"] = git(forge.bare, "rev-parse", mr["source_branch"]).stdout.strip()
        if mr["state"] == "opened":
            mr["has_conflicts"] = conflicts(mr)
            mr["merge_status"] = "cannot_be_merged" if mr["has_conflicts"] else "can_be_merged"
        return {k: v for k, v in mr.items() if k != "project"}

    async def merge_requests(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        body = await request.json()
        missing = [key for key in ("source_branch", "target_branch", "title") if not body.get(key)]
        if missing:
            return error(400, f"{missing[0]} is missing")
        if any(m["project"] == project and m["source_branch"] == body["source_branch"] and m["state"] == "opened"
               for m in forge.merge_requests):
            return error(409, ["Another open merge request already exists for this source branch: !1"])
        iid = 1 + len(forge.merge_requests)
        mr = {"id": 5000 + iid, "iid": iid, "project": project, "title": body["title"],
              "description": body.get("description"), "state": "opened", "source_branch": body["source_branch"],
              "target_branch": body["target_branch"], "web_url": f"https://{HOST}/{project}/-/merge_requests/{iid}",
              "merge_commit_sha": None, "squash_commit_sha": None, "draft": body["title"].startswith("Draft:")}
        forge.merge_requests.append(mr)
        return JSONResponse(shown(mr), status_code=201)

    def mr_of(request: Request, project: str | None) -> dict[str, Any] | None:
        iid = int(request.path_params["iid"])
        return next((m for m in forge.merge_requests if m["iid"] == iid and m["project"] == project), None)

    async def merge_request(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        found = mr_of(request, project)
        return JSONResponse(shown(found)) if found else error(404, "404 Not found")

    async def merge(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        found = mr_of(request, project)
        if found is None:
            return error(404, "404 Not found")
        if found["state"] != "opened" or conflicts(found):
            return error(405, "405 Method Not Allowed")
        squash = bool((await request.json()).get("squash"))
        target, source = found["target_branch"], found["source_branch"]
        tree = git(forge.bare, "merge-tree", "--write-tree", target, source).stdout.split()[0]
        parents = ["-p", target] if squash else ["-p", target, "-p", source]
        sha = git(forge.bare, "commit-tree", tree, *parents, "-m", f"Merge branch '{source}'").stdout.strip()
        git(forge.bare, "update-ref", f"refs/heads/{target}", sha)
        found.update(state="merged", **{"squash_commit_sha" if squash else "merge_commit_sha": sha})
        return JSONResponse(shown(found))

    async def pipelines(request: Request) -> Response:
        project, refused = gate(request)
        if refused:
            return refused
        found = mr_of(request, project)
        if found is None:
            return error(404, "404 Not found")
        listed = forge.pipelines.get(found["source_branch"], [])
        per_page = int(request.query_params.get("per_page", 20))
        return JSONResponse(listed[:per_page], headers={"X-Total": str(len(listed))})

    prefix = "/api/v4/projects/{project:path}"
    return Starlette(routes=[
        Route(f"{prefix}/issues/{{iid:int}}", issue, methods=["GET", "PUT"]),
        Route(f"{prefix}/issues/{{iid:int}}/notes", notes, methods=["POST"]),
        Route(f"{prefix}/merge_requests", merge_requests, methods=["POST"]),
        Route(f"{prefix}/merge_requests/{{iid:int}}", merge_request, methods=["GET"]),
        Route(f"{prefix}/merge_requests/{{iid:int}}/merge", merge, methods=["PUT"]),
        Route(f"{prefix}/merge_requests/{{iid:int}}/pipelines", pipelines, methods=["GET"]),
    ])


@contextmanager
def running_gitlab(bare: Path | None = None) -> Iterator[GitLabForge]:
    forge = GitLabForge(bare=bare)
    with serving(app(forge)) as url:
        forge.url = url
        yield forge
