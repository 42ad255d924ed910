"""Workspaces on real git repositories: worktrees created and cleaned up, hostile names and
paths refused before git runs, and merge checks that find a real conflict."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

pytestmark = pytest.mark.usefixtures("allowed_roots")

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(cwd: Path | str, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                          env=GIT_ENV).stdout.strip()


def commit_file(cwd: Path | str, name: str, text: str) -> None:
    Path(cwd, name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", f"write {name}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_file(path, "shared.txt", "one\ntwo\nthree\n")
    return path


@pytest.fixture
def wf(client: caw_lab.Client) -> dict[str, Any]:
    return make_workflow(client, [{"name": "left"}, {"name": "right"}])


def worktree_paths(repo: Path) -> list[str]:
    lines = git(repo, "worktree", "list", "--porcelain").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.startswith("worktree ")]


def refused(client: caw_lab.Client, code: str, tool: str, **args: Any) -> caw_lab.CawError:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert info.value.code == code, info.value.to_dict()
    assert dump(client.db) == before
    return info.value


def test_create_worktree_makes_a_real_branch_and_assigns_tasks(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any]
) -> None:
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="caw/left", create_worktree=True,
                     repo_path=str(repo), task_ids=[wf["tasks"]["left"]])
    expected = repo / ".caw" / "worktrees" / "caw-left"
    assert ws["path"] == str(expected) and ws["base_branch"] == "main" and ws["worktree_created"]
    assert (expected / "shared.txt").read_text() == "one\ntwo\nthree\n"
    assert git(expected, "rev-parse", "--abbrev-ref", "HEAD") == "caw/left"
    assert str(expected) in worktree_paths(repo)
    assert git(repo, "status", "--porcelain") == "", "the worktree must not show up in the repository's status"
    assert client.call("task_get", id=wf["tasks"]["left"])["workspace_id"] == ws["id"]
    listed = client.call("workspace_list", workflow_id=wf["id"])["workspaces"]
    assert [(w["id"], w["task_ids"]) for w in listed] == [(ws["id"], [wf["tasks"]["left"]])]
    repos = client.call("workflow_list_repositories", workflow_id=wf["id"])["repositories"]
    assert [r["path"] for r in repos] == [str(repo)] and listed[0]["repository_id"] == repos[0]["id"]


def test_cleanup_removes_the_worktree_but_keeps_the_branch(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any]
) -> None:
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="feature", create_worktree=True,
                     repo_path=str(repo))
    commit_file(ws["path"], "feature.txt", "work\n")
    result = client.call("workspace_update", id=ws["id"], status="merged", merge_commit="abc123",
                         cleanup_worktree=True)
    assert result["worktree_removed"] and not Path(ws["path"]).exists()
    assert ws["path"] not in worktree_paths(repo)
    assert git(repo, "show", "feature:feature.txt") == "work"
    shown = client.call("workspace_list", workflow_id=wf["id"], status=["merged"])["workspaces"]
    assert [(w["status"], w["merge_commit"]) for w in shown] == [("merged", "abc123")]


def test_cleanup_refuses_uncommitted_work_and_keeps_it_when_forced(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any]
) -> None:
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="dirty", create_worktree=True,
                     repo_path=str(repo))
    Path(ws["path"], "scratch.txt").write_text("unsaved")
    Path(ws["path"], "shared.txt").write_text("edited\n")
    for status in ("merged", "abandoned"):
        error = refused(client, "WORKTREE_DIRTY", "workspace_update", id=ws["id"], status=status, merge_commit="abc",
                        cleanup_worktree=True)
        assert "scratch.txt" in error.message and "force" in error.suggestion
    assert Path(ws["path"], "scratch.txt").read_text() == "unsaved"
    refused(client, "INVALID_STATE", "workspace_update", id=ws["id"], cleanup_worktree=True)
    done = client.call("workspace_update", id=ws["id"], status="abandoned", cleanup_worktree=True, force=True)
    assert done["worktree_removed"] and not Path(ws["path"]).exists()
    assert done["backup_ref"].startswith(f"refs/caw-backup/{ws['id']}/")
    assert git(repo, "show", f"{done['backup_ref']}:scratch.txt") == "unsaved"
    assert git(repo, "show", f"{done['backup_ref']}:shared.txt") == "edited"
    assert git(repo, "rev-parse", f"{done['backup_ref']}^") == git(repo, "rev-parse", "dirty")
    [event] = client.call("events_list", workflow_id=wf["id"], kinds=["workspace.updated"])["events"]
    assert event["payload"]["backup_ref"] == done["backup_ref"]


@pytest.mark.parametrize("branch", ["a..b", "-x", "has space", "x.lock", "HEAD", "a~b", "ends/", "a\nb", "@{-1}"])
def test_branch_names_git_would_reject_are_refused_before_git_runs(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], branch: str
) -> None:
    refused(client, "INVALID_INPUT", "workspace_create", workflow_id=wf["id"], branch=branch,
            create_worktree=True, repo_path=str(repo))
    assert worktree_paths(repo) == [str(repo)]
    assert not (repo / ".caw").exists()


@pytest.mark.parametrize("path", ["../outside", "/tmp/caw-elsewhere", ".caw/worktrees/../../../x", ".caw/worktrees"])
def test_paths_outside_the_allowed_roots_are_refused(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], path: str
) -> None:
    refused(client, "PATH_OUTSIDE_ROOTS", "workspace_create", workflow_id=wf["id"], branch="b", path=path,
            create_worktree=True, repo_path=str(repo))
    assert git(repo, "branch", "--list", "b") == ""
    assert not (repo.parent / "outside").exists()


def test_a_symlink_committed_into_the_repository_cannot_redirect_a_worktree(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "victim"
    target.mkdir()
    (repo / ".caw").symlink_to(target)
    refused(client, "PATH_OUTSIDE_ROOTS", "workspace_create", workflow_id=wf["id"], branch="b",
            create_worktree=True, repo_path=str(repo))
    assert list(target.iterdir()) == []


def test_extra_roots_come_from_the_environment(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "trees"
    root.mkdir()
    monkeypatch.setenv("CAW_WORKTREE_ROOTS", str(root))
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="b", path=str(root / "b"),
                     create_worktree=True, repo_path=str(repo))
    assert Path(ws["path"], "shared.txt").exists()


def test_existing_branch_unknown_base_and_non_repository_are_refused(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], tmp_path: Path
) -> None:
    git(repo, "branch", "taken")
    refused(client, "BRANCH_EXISTS", "workspace_create", workflow_id=wf["id"], branch="taken",
            create_worktree=True, repo_path=str(repo))
    refused(client, "BRANCH_NOT_FOUND", "workspace_create", workflow_id=wf["id"], branch="new",
            base_branch="no-such-branch", create_worktree=True, repo_path=str(repo))
    refused(client, "NOT_A_GIT_REPOSITORY", "workspace_create", workflow_id=wf["id"], branch="new",
            create_worktree=True, repo_path=str(tmp_path))
    refused(client, "MISSING_REPO_PATH", "workspace_create", workflow_id=wf["id"], branch="new", create_worktree=True)
    assert worktree_paths(repo) == [str(repo)]


def test_unknown_or_foreign_tasks_are_refused_before_git_runs(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any]
) -> None:
    other = make_workflow(client, [{"name": "x"}])
    refused(client, "TASK_NOT_FOUND", "workspace_create", workflow_id=wf["id"], branch="b", task_ids=["tk_nope"],
            create_worktree=True, repo_path=str(repo))
    refused(client, "WORKFLOW_MISMATCH", "workspace_create", workflow_id=wf["id"], branch="b",
            task_ids=[other["tasks"]["x"]], create_worktree=True, repo_path=str(repo))
    assert git(repo, "branch", "--list", "b") == ""


def test_registered_workspace_and_task_assignment(client: caw_lab.Client, wf: dict[str, Any], tmp_path: Path) -> None:
    refused(client, "MISSING_PATH", "workspace_create", workflow_id=wf["id"], branch="b")
    error = refused(client, "INVALID_INPUT", "workspace_create", workflow_id=wf["id"], branch="b", path="ws\x1b[2J")
    assert "Workspace path" in error.message
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="b", path=str(tmp_path / "ws"))
    assert not ws["worktree_created"]
    client.call("task_assign_workspace", task_id=wf["tasks"]["right"], workspace_id=ws["id"])
    assert client.call("task_get", id=wf["tasks"]["right"])["workspace_id"] == ws["id"]
    other = make_workflow(client, [{"name": "x"}])
    refused(client, "WORKFLOW_MISMATCH", "task_assign_workspace", task_id=other["tasks"]["x"], workspace_id=ws["id"])
    refused(client, "MISSING_MERGE_COMMIT", "workspace_update", id=ws["id"], status="merged")
    client.call("workspace_update", id=ws["id"], status="abandoned", pr_url="https://example.com/pr/1",
                config={"k": 1})
    refused(client, "INVALID_STATE", "task_assign_workspace", task_id=wf["tasks"]["left"], workspace_id=ws["id"])
    shown = client.call("workspace_list", workflow_id=wf["id"])["workspaces"][0]
    assert (shown["status"], shown["pr_url"], shown["config"]) == ("abandoned", "https://example.com/pr/1", {"k": 1})
    assert client.call("workspace_list", workflow_id=wf["id"], status=["active"])["workspaces"] == []


def test_merge_check_reports_clean_branches_and_real_conflicts(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any]
) -> None:
    clean = client.call("workspace_create", workflow_id=wf["id"], branch="clean", create_worktree=True,
                        repo_path=str(repo))
    clash = client.call("workspace_create", workflow_id=wf["id"], branch="clash", create_worktree=True,
                        repo_path=str(repo))
    commit_file(clean["path"], "new.txt", "independent\n")
    commit_file(clash["path"], "shared.txt", "one\nTWO from the branch\nthree\n")
    commit_file(clash["path"], "other.txt", "fine\n")
    commit_file(repo, "shared.txt", "one\ntwo from main\nthree\n")
    main_before = git(repo, "rev-parse", "main")
    before = dump(client.db)

    report = client.call("workflow_check_merge", workflow_id=wf["id"])
    by_branch = {w["branch"]: w for w in report["workspaces"]}
    assert (report["checked"], report["clean"], report["conflicted"]) == (2, 1, 1)
    assert by_branch["clean"]["mergeable"] and by_branch["clean"]["conflicts"] == []
    assert by_branch["clean"]["commits_ahead"] == 1
    assert not by_branch["clash"]["mergeable"] and by_branch["clash"]["conflicts"] == ["shared.txt"]
    assert by_branch["clash"]["base_branch"] == "main"
    assert git(repo, "rev-parse", "main") == main_before and git(repo, "status", "--porcelain") == ""
    assert dump(client.db) == before


def test_merge_check_skips_finished_workspaces_and_reports_unknown_branches(
    client: caw_lab.Client, repo: Path, wf: dict[str, Any], tmp_path: Path
) -> None:
    done = client.call("workspace_create", workflow_id=wf["id"], branch="done", create_worktree=True,
                       repo_path=str(repo))
    client.call("workspace_update", id=done["id"], status="abandoned", cleanup_worktree=True)
    client.call("workspace_create", workflow_id=wf["id"], branch="ghost", path=str(tmp_path / "ghost"))
    report = client.call("workflow_check_merge", workflow_id=wf["id"], repo_path=str(repo))
    assert [w["branch"] for w in report["workspaces"]] == ["ghost"]
    assert not report["workspaces"][0]["mergeable"] and "ghost" in report["workspaces"][0]["error"]
