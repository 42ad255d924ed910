"""Workflows from GitHub issues and workspaces opened as pull requests: real git repositories
pushing to a real bare remote, and GitHub's REST API served by a local stand-in that speaks its
protocol (``github_server``), as GitHub itself cannot be reached from here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from github_server import TOKEN, Forge, running_forge
from tests.test_workspaces import commit_file, git, refused

pytestmark = pytest.mark.usefixtures("allowed_roots")

REPO = "octo/app"


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> Iterator[Forge]:
    with running_forge() as running:
        monkeypatch.setenv("CAW_GITHUB_API_URL", running.url)
        monkeypatch.setenv("CAW_GITHUB_TOKEN", TOKEN)
        yield running


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose origin reads as GitHub's (fetch URL) but pushes to a local bare one."""
    bare, path = tmp_path / "origin.git", tmp_path / "repo"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_file(path, "README.md", "app\n")
    git(path, "remote", "add", "origin", f"git@github.com:{REPO}.git")
    git(path, "remote", "set-url", "--push", "origin", str(bare))
    git(path, "push", "-q", "origin", "main")
    return path


def test_a_workflow_is_made_from_an_issue(client: caw_lab.Client, forge: Forge) -> None:
    forge.add_issue(REPO, 7, "Users cannot sign in", "The login form rejects every password.")
    created = client.call("workflow_from_issue", repo=REPO, number=7, max_parallel_tasks=2)
    wf = client.call("workflow_get", id=created["id"])
    assert (wf["name"], wf["source_type"], wf["source_ref"]) == (
        "Users cannot sign in", "github_issue", f"https://github.com/{REPO}/issues/7")
    assert wf["source_content"] == "The login form rejects every password." and wf["max_parallel_tasks"] == 2
    assert forge.requests[-1][:2] == ("GET", f"/repos/{REPO}/issues/7")
    assert forge.requests[-1][2] == f"Bearer {TOKEN}"


def test_bad_issue_requests_are_refused_and_change_nothing(client: caw_lab.Client, forge: Forge) -> None:
    forge.add_issue(REPO, 8, "a pull request", None, pull=True)
    refused(client, "GITHUB_NOT_FOUND", "workflow_from_issue", repo=REPO, number=999)
    refused(client, "INVALID_INPUT", "workflow_from_issue", repo=REPO, number=8)
    for hostile in ("../../admin", "octo/app/../../x", "octo/..", "octo", "octo/app; rm -rf /", "-x/y"):
        refused(client, "INVALID_INPUT", "workflow_from_issue", repo=hostile, number=1)
    refused(client, "INVALID_INPUT", "workflow_from_issue", repo=REPO, number=0)
    assert all(path.startswith(f"/repos/{REPO}/issues/") for _, path, _ in forge.requests), forge.requests


def test_github_out_of_reach_is_a_recoverable_refusal(client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_session import free_port

    monkeypatch.setenv("CAW_GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    err = refused(client, "GITHUB_UNAVAILABLE", "workflow_from_issue", repo=REPO, number=1)
    assert err.recoverable


@pytest.fixture
def workspace(client: caw_lab.Client, repo: Path, forge: Forge) -> dict[str, Any]:
    forge.add_issue(REPO, 7, "Users cannot sign in", "The login form rejects every password.")
    wf = client.call("workflow_from_issue", repo=REPO, number=7)
    client.call("workflow_set_plan", id=wf["id"], plan={"summary": "Fix the login form", "tasks": [
        {"name": "hash check"}, {"name": "error message"}]})
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="caw/login", create_worktree=True,
                     repo_path=str(repo))
    commit_file(ws["path"], "login.py", "def check(password): return verify(password)\n")
    task = client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"][0]["id"]
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task, status=status)
    client.call("task_update_status", id=task, status="completed", outcome="passwords are verified against the hash")
    return ws


def test_a_workspace_is_pushed_and_opened_as_a_pull_request_that_closes_its_issue(
    client: caw_lab.Client, repo: Path, forge: Forge, workspace: dict[str, Any], tmp_path: Path
) -> None:
    opened = client.call("workspace_open_pr", workspace_id=workspace["id"])
    assert opened["opened"] and opened["pr_url"] == f"https://github.com/{REPO}/pull/100"
    assert git(tmp_path / "origin.git", "log", "-1", "--format=%s", "caw/login") == "write login.py"
    [pull] = forge.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["title"]) == ("caw/login", "main", "Users cannot sign in")
    assert "Fix the login form" in pull["body"] and "Closes #7" in pull["body"]
    assert "- hash check: passwords are verified against the hash" in pull["body"]
    listed = client.call("workspace_list", workflow_id=workspace["workflow_id"])["workspaces"]
    assert listed[0]["pr_url"] == opened["pr_url"]
    again = client.call("workspace_open_pr", workspace_id=workspace["id"])
    assert (again["opened"], again["pr_url"]) == (False, opened["pr_url"]) and len(forge.pulls) == 1


def test_githubs_refusals_reach_the_agent_and_record_nothing(
    client: caw_lab.Client, forge: Forge, workspace: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAW_GITHUB_TOKEN", "wrong")
    assert "Bad credentials" in refused(client, "GITHUB_UNAUTHORIZED", "workspace_open_pr",
                                        workspace_id=workspace["id"]).message
    monkeypatch.setenv("CAW_GITHUB_TOKEN", TOKEN)
    forge.pulls.append({"repo": REPO, "head": {"ref": "caw/login"}})  # opened by someone else meanwhile
    err = refused(client, "GITHUB_REFUSED", "workspace_open_pr", workspace_id=workspace["id"])
    assert "A pull request already exists for octo:caw/login." in err.message


def test_hostile_or_unusable_pull_request_arguments_are_refused_before_git_runs(
    client: caw_lab.Client, forge: Forge, workspace: dict[str, Any], tmp_path: Path
) -> None:
    refused(client, "INVALID_INPUT", "workspace_open_pr", workspace_id=workspace["id"], remote="--upload-pack=evil")
    refused(client, "INVALID_INPUT", "workspace_open_pr", workspace_id=workspace["id"], base="-f")
    refused(client, "INVALID_INPUT", "workspace_open_pr", workspace_id=workspace["id"], repo="../x")
    refused(client, "GIT_PUSH_FAILED", "workspace_open_pr", workspace_id=workspace["id"], remote="nowhere",
            repo=REPO)
    refused(client, "WORKSPACE_NOT_FOUND", "workspace_open_pr", workspace_id="ws_000000000000")
    assert forge.pulls == [] and "caw/login" not in git(tmp_path / "origin.git", "branch", "--list")


def test_a_remote_off_github_needs_the_repository_named(
    client: caw_lab.Client, forge: Forge, workspace: dict[str, Any], repo: Path
) -> None:
    git(repo, "remote", "add", "mirror", "https://gitlab.example.com/octo/app.git")
    err = refused(client, "INVALID_INPUT", "workspace_open_pr", workspace_id=workspace["id"], remote="mirror")
    assert "on neither github.com nor the GitLab" in err.message



def test_a_finished_run_opens_its_workspaces_pull_requests(
    client: caw_lab.Client, db_path: Path, repo: Path, forge: Forge, tmp_path: Path
) -> None:
    """``open_pull_requests`` in the execution config: the executor opens them once every task is done."""
    from caw_lab.runtimes.executor import Executor
    from caw_lab.runtimes.python import PythonRuntime

    forge.add_issue(REPO, 9, "Speed up search", "Search takes seconds.")
    wf = client.call("workflow_from_issue", repo=REPO, number=9)
    client.call("workflow_set_plan", id=wf["id"], plan={"summary": "Index the table", "tasks": [{"name": "index"}]})
    for branch in ("caw/index", "caw/taken"):
        client.call("workspace_create", workflow_id=wf["id"], branch=branch, create_worktree=True, repo_path=str(repo))
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"open_pull_requests": True}})
    forge.pulls.append({"repo": REPO, "head": {"ref": "caw/taken"}})  # GitHub will refuse this one

    outcome = Executor(str(db_path), wf["id"], overrides={"runtime": "python"},
                       runtimes={"python": PythonRuntime(lambda task, ctx: "indexed")}, connect=caw_lab.connect).run()

    assert outcome.status == "completed"
    assert outcome.detail["pull_requests"] == [f"https://github.com/{REPO}/pull/101"]
    [refusal] = outcome.detail["pull_request_errors"]
    assert refusal["code"] == "GITHUB_REFUSED" and "already exists" in refusal["message"]
    assert "Closes #9" in forge.pulls[-1]["body"] and "- index: indexed" in forge.pulls[-1]["body"]
