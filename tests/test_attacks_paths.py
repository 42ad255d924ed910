"""Attacks on the path sandbox, each through the real surface (the tool registry, the ``caw``
command) against real git repositories holding uncommitted edits and untracked files.

Every refusal is checked twice over: the error's code, and that nothing changed, neither
the database (every row of every table) nor the disk (every file, symlink and directory
under the allowed root and outside it, and each repository's HEAD, refs, status, stash and
worktrees).

The layout: ``allowed/`` is the one root (CAW_ALLOWED_ROOTS) and holds the user's
repository ``allowed/repo``; ``outside/victim`` is another person's repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import caw_lab
from caw_lab.cli import main
from caw_lab.engine import rollback, workspaces
from caw_lab.errors import CawError
from caw_lab.runtimes import Executor, PythonRuntime
from tests.conftest import dump, make_workflow
from tests.test_workspaces import git


@dataclass(frozen=True)
class Site:
    allowed: Path
    outside: Path
    repo: Path
    victim: Path


def make_repo(path: Path) -> Path:
    """A repository with one commit, an uncommitted edit and an untracked file."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "app.py").write_text("v1\n")
    git(path, "add", "app.py")
    git(path, "commit", "-q", "-m", "v1")
    (path / "app.py").write_text("uncommitted edit\n")
    (path / "untracked.txt").write_text("untracked work\n")
    return path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    found = Site(allowed, outside, make_repo(allowed / "repo"), make_repo(outside / "victim"))
    monkeypatch.setenv("CAW_ALLOWED_ROOTS", str(allowed))
    monkeypatch.delenv("CAW_WORKTREE_ROOTS", raising=False)
    monkeypatch.chdir(found.repo)
    return found


def disk(*roots: Path) -> dict[str, Any]:
    """Every file, symlink and directory under ``roots`` (``.git`` internals aside), the status
    of every checkout there, and the refs and worktrees of every repository."""
    state: dict[str, Any] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in sorted(dirs + files):
                path = Path(folder, name)
                if path.is_symlink():
                    state[str(path)] = ("symlink", os.readlink(path))
                elif path.is_dir():
                    state[str(path)] = "dir"
                elif name != ".git":
                    state[str(path)] = path.read_bytes()
            if Path(folder, ".git").exists():
                state[f"{folder} (status)"] = git(folder, "status", "--porcelain")
            if Path(folder, ".git").is_dir():
                state[f"{folder} (refs)"] = git(folder, "for-each-ref"), git(folder, "worktree", "list", "--porcelain")
    return state


def refused(client: caw_lab.Client, site: Site, code: str, *attacks: Callable[[], Any]) -> CawError:
    """Run each attack; each must raise CawError ``code`` and change neither database nor disk."""
    rows, files = dump(client.db), disk(site.allowed, site.outside)
    for attack in attacks:
        with pytest.raises(CawError) as info:
            attack()
        assert info.value.code == code, info.value.to_dict()
        assert dump(client.db) == rows, "a refused call changed the database"
        assert disk(site.allowed, site.outside) == files, "a refused call changed files on disk"
    return info.value


def hostile_paths(site: Site) -> dict[str, str]:
    """Ways out of ``allowed/``: each must be refused wherever a path is taken."""
    (site.allowed / "to-victim").symlink_to(site.victim)
    (site.allowed / "to-root").symlink_to("/")
    return {
        "filesystem root": "/",
        "dot-dot relative": "../../etc",
        "dot-dot through the root": str(site.repo / ".." / ".." / "outside" / "victim"),
        "another person's repository": str(site.victim),
        "symlink to another repository": str(site.allowed / "to-victim"),
        "symlinked parent": str(site.allowed / "to-root" / "etc"),
    }


PATH_TAKERS: dict[str, Callable[[caw_lab.Client, dict[str, str], str], Any]] = {
    "repository_register": lambda c, ids, p: c.call("repository_register", path=p),
    "workflow_add_repository": lambda c, ids, p: c.call(
        "workflow_add_repository", workflow_id=ids["ready"], repository_path=p
    ),
    "workflow_create": lambda c, ids, p: c.call(
        "workflow_create", name="w", source_type="prompt", source_content="x", repository_paths=[p]
    ),
    "workflow_set_plan": lambda c, ids, p: c.call(
        "workflow_set_plan", id=ids["planning"], plan={"summary": "s", "tasks": [{"name": "a", "repository_path": p}]}
    ),
    "template_apply": lambda c, ids, p: c.call(
        "template_apply", template_id=ids["template"], workflow_name="w", repository_paths=[p]
    ),
    "memory_create": lambda c, ids, p: c.call("memory_create", topic="t", content="c", repository_path=p),
    "workspace_create path": lambda c, ids, p: c.call("workspace_create", workflow_id=ids["ready"], branch="b", path=p),
    "workspace_create repo_path": lambda c, ids, p: c.call(
        "workspace_create", workflow_id=ids["ready"], branch="b", create_worktree=True, repo_path=p
    ),
    "workspace_create worktree path": lambda c, ids, p: c.call(
        "workspace_create", workflow_id=ids["ready"], branch="b", create_worktree=True, repo_path=ids["repo"], path=p
    ),
    "workflow_check_merge repo_path": lambda c, ids, p: c.call(
        "workflow_check_merge", workflow_id=ids["ready"], repo_path=p
    ),
}


@pytest.mark.sqlite_only  # refused before any statement is built: the backend plays no part
@pytest.mark.parametrize("taker", sorted(PATH_TAKERS))
def test_no_tool_takes_a_path_outside_the_roots(client: caw_lab.Client, site: Site, taker: str) -> None:
    ids = {
        "ready": make_workflow(client, [{"name": "a"}], repository_paths=[str(site.repo)])["id"],
        "planning": client.call("workflow_create", name="p", source_type="prompt", source_content="x")["id"],
        "template": client.call("template_create", name="t", template={"tasks": [{"name": "a"}]})["id"],
        "repo": str(site.repo),
    }
    attacks = [lambda p=path: PATH_TAKERS[taker](client, ids, p) for path in hostile_paths(site).values()]
    error = refused(client, site, "PATH_OUTSIDE_ROOTS", *attacks)
    assert "CAW_ALLOWED_ROOTS" in error.suggestion and not error.recoverable
    assert git(site.victim, "branch", "--list", "b") == "" and git(site.repo, "branch", "--list", "b") == ""


def started(client: caw_lab.Client, site: Site, **workspace: Any) -> tuple[str, str, Path]:
    """A task with a workspace (a new worktree of ``allowed/repo`` unless ``workspace`` says
    otherwise) whose checkpoints recorded two commits; it ends dirty, its agent gone.
    Returns the task, the checkpoint of the first commit, and the workspace's directory."""
    wf = make_workflow(client, [{"name": "t"}], repository_paths=[str(site.repo)])
    task = wf["tasks"]["t"]
    agent = client.call("agent_register", name="worker", runtime="custom")["id"]
    client.call("task_claim", task_id=task, agent_id=agent)
    client.call("task_update_status", id=task, status="planning")
    client.call("task_update_status", id=task, status="in_progress")
    spec = workspace or {"create_worktree": True, "repo_path": str(site.repo)}
    ws = client.call("workspace_create", workflow_id=wf["id"], branch="caw/t", task_ids=[task], **spec)
    tree = Path(ws["path"])
    commits = []
    if spec.get("create_worktree"):
        for text in ("v2\n", "v3\n"):
            (tree / "app.py").write_text(text)
            git(tree, "commit", "-q", "-am", text.strip())
            commits.append(git(tree, "rev-parse", "HEAD"))
        (tree / "app.py").write_text("uncommitted edit\n")
        (tree / "untracked.txt").write_text("untracked work\n")
    else:
        commits = [git(site.victim, "rev-parse", "HEAD")] * 2
    good = client.call("checkpoint_add", task_id=task, type="progress", summary="good", detail={"commit": commits[0]})
    client.call("checkpoint_add", task_id=task, type="progress", summary="bad", detail={"commit": commits[1]})
    client.call("agent_unregister", id=agent)
    return task, good["id"], tree


def test_rollback_never_discards_uncommitted_work_without_force(client: caw_lab.Client, site: Site) -> None:
    task, good, _ = started(client, site)
    error = refused(
        client, site, "WORKTREE_DIRTY", lambda: client.call("task_rollback", task_id=task, checkpoint_id=good)
    )
    assert "app.py" in error.message and "untracked.txt" in error.message and error.recoverable


def test_forced_rollback_keeps_the_work_under_a_named_backup_ref(client: caw_lab.Client, site: Site) -> None:
    task, good, tree = started(client, site)
    head = git(tree, "rev-parse", "HEAD")
    result = client.call("task_rollback", task_id=task, checkpoint_id=good, force=True)["workspace_reset"]
    backup = result["backup_ref"]
    assert backup.startswith("refs/caw-backup/") and result["previous_commit"] == head
    assert git(tree, "status", "--porcelain") == "" and (tree / "app.py").read_text() == "v2\n"
    assert git(tree, "show", f"{backup}:app.py") == "uncommitted edit"
    assert git(tree, "show", f"{backup}:untracked.txt") == "untracked work"
    assert git(tree, "rev-parse", f"{backup}^") == head
    git(tree, "reset", "-q", "--hard", head)
    git(tree, "restore", f"--source={backup}", "--worktree", "--", ":/")
    assert (tree / "untracked.txt").read_text() == "untracked work\n", "the backup brings the work back"


@pytest.mark.parametrize("dirty", [False, True])
def test_a_rollback_git_refuses_changes_nothing(client: caw_lab.Client, site: Site, dirty: bool) -> None:
    """With ``.git/index.lock`` present git cannot reset: the answer is GIT_FAILED, no row is
    written, the tree is untouched and no backup ref is left behind."""
    task, good, tree = started(client, site)
    if not dirty:
        git(tree, "stash", "push", "-q", "--include-untracked")
    Path(git(tree, "rev-parse", "--path-format=absolute", "--git-path", "index.lock")).write_text("")
    error = refused(
        client, site, "GIT_FAILED", lambda: client.call("task_rollback", task_id=task, checkpoint_id=good, force=True)
    )
    assert "index.lock" in error.message


def test_a_rollback_refused_by_a_concurrent_writer_puts_the_tree_back(
    client: caw_lab.Client, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Git acts before the batch; when another agent claims the task in between, the batch is
    refused and the tree, saved work included, is put back as it was."""
    task, good, tree = started(client, site)
    files, real_commit = disk(site.allowed, site.outside), rollback.commit

    def racing(*args: Any, **kwargs: Any) -> Any:
        assert git(tree, "status", "--porcelain") == "", "git has reset the tree by now"
        rival = client.call("agent_register", name="rival", runtime="custom")["id"]
        client.call("task_claim", task_id=task, agent_id=rival)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(rollback, "commit", racing)
    with pytest.raises(CawError) as info:
        client.call("task_rollback", task_id=task, checkpoint_id=good, force=True)
    assert info.value.code == "CONFLICT"
    assert disk(site.allowed, site.outside) == files
    assert client.call("events_list", kinds=["task.rolled_back"])["events"] == []
    assert not any(c["rolled_back"] for c in client.call("checkpoint_list", task_id=task)["checkpoints"])


def test_a_workspace_swapped_for_a_symlink_is_refused_when_used(client: caw_lab.Client, site: Site) -> None:
    """The path was inside the roots when registered; the check is made again on use, so a
    directory later replaced by a symlink to another repository leads nowhere: not to a
    reset, a worktree removal, nor a push."""
    (site.allowed / "ws").mkdir()
    task, good, tree = started(client, site, path=str(site.allowed / "ws"))
    workspace = client.call("task_get", id=task)["workspace_id"]
    tree.rmdir()
    tree.symlink_to(site.victim)
    refused(
        client,
        site,
        "PATH_OUTSIDE_ROOTS",
        lambda: client.call("task_rollback", task_id=task, checkpoint_id=good, force=True),
        lambda: client.call("workspace_update", id=workspace, status="abandoned", cleanup_worktree=True, force=True),
        lambda: client.call("workspace_open_pr", workspace_id=workspace, repo="octo/app", base="main"),
    )
    [checked] = client.call("workflow_check_merge", workflow_id=client.call("task_get", id=task)["workflow_id"])[
        "workspaces"
    ]
    assert not checked["mergeable"] and "outside the allowed roots" in checked["error"]


def test_a_workspace_outside_narrowed_roots_is_refused_when_used(
    client: caw_lab.Client, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows outlive the roots they were checked against (an import, a restart with other
    roots): a workspace registered under wider roots is refused once they are narrowed."""
    monkeypatch.setenv("CAW_ALLOWED_ROOTS", os.pathsep.join([str(site.allowed), str(site.outside)]))
    task, good, _ = started(client, site, path=str(site.victim))
    monkeypatch.setenv("CAW_ALLOWED_ROOTS", str(site.allowed))
    refused(
        client,
        site,
        "PATH_OUTSIDE_ROOTS",
        lambda: client.call("task_rollback", task_id=task, checkpoint_id=good, force=True),
    )


def test_git_environment_cannot_redirect_a_rollback(
    client: caw_lab.Client, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server started from a git hook inherits GIT_DIR; git must still act on the checked path."""
    task, good, tree = started(client, site)
    victim = disk(site.outside)
    monkeypatch.setenv("GIT_DIR", str(site.victim / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(site.victim))
    client.call("task_rollback", task_id=task, checkpoint_id=good, force=True)
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert disk(site.outside) == victim
    assert (tree / "app.py").read_text() == "v2\n"


def test_cleanup_never_removes_a_worktree_caw_lab_did_not_create(client: caw_lab.Client, site: Site) -> None:
    theirs = site.allowed / "theirs"
    git(site.repo, "worktree", "add", "-q", "-b", "theirs", str(theirs))
    (theirs / "untracked.txt").write_text("their work\n")
    wf = make_workflow(client, [{"name": "a"}], repository_paths=[str(site.repo)])
    for path in (theirs, site.repo):
        ws = client.call("workspace_create", workflow_id=wf["id"], branch="x", path=str(path))
        error = refused(
            client,
            site,
            "WORKTREE_NOT_CREATED_BY_CAW",
            lambda i=ws["id"]: client.call(
                "workspace_update", id=i, status="abandoned", cleanup_worktree=True, force=True
            ),
        )
        assert not error.recoverable


def test_cleanup_refuses_a_worktree_caw_lab_made_for_another_workspace(client: caw_lab.Client, site: Site) -> None:
    wf = make_workflow(client, [{"name": "a"}], repository_paths=[str(site.repo)])
    made = client.call(
        "workspace_create", workflow_id=wf["id"], branch="made", create_worktree=True, repo_path=str(site.repo)
    )
    posing = client.call("workspace_create", workflow_id=wf["id"], branch="made", path=made["path"])
    refused(
        client,
        site,
        "WORKTREE_NOT_CREATED_BY_CAW",
        lambda: client.call("workspace_update", id=posing["id"], status="abandoned", cleanup_worktree=True, force=True),
    )


def test_abandoning_a_dirty_worktree_keeps_it_unless_forced(client: caw_lab.Client, site: Site) -> None:
    wf = make_workflow(client, [{"name": "a"}], repository_paths=[str(site.repo)])
    ws = client.call(
        "workspace_create", workflow_id=wf["id"], branch="dirty", create_worktree=True, repo_path=str(site.repo)
    )
    Path(ws["path"], "untracked.txt").write_text("work in progress\n")
    refused(
        client,
        site,
        "WORKTREE_DIRTY",
        lambda: client.call("workspace_update", id=ws["id"], status="abandoned", cleanup_worktree=True),
    )
    done = client.call("workspace_update", id=ws["id"], status="abandoned", cleanup_worktree=True, force=True)
    assert not Path(ws["path"]).exists()
    assert git(site.repo, "show", f"{done['backup_ref']}:untracked.txt") == "work in progress"


def test_a_cleanup_refused_by_a_concurrent_writer_puts_the_worktree_back(
    client: caw_lab.Client, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = make_workflow(client, [{"name": "a"}], repository_paths=[str(site.repo)])
    ws = client.call(
        "workspace_create", workflow_id=wf["id"], branch="raced", create_worktree=True, repo_path=str(site.repo)
    )
    Path(ws["path"], "app.py").write_text("edited in the worktree\n")
    Path(ws["path"], "notes.txt").write_text("untracked\n")
    files, real_commit, raced = disk(site.allowed, site.outside), workspaces.commit, []

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            assert not Path(ws["path"]).exists(), "git has removed the worktree by now"
            client.call("workspace_update", id=ws["id"], status="merged", merge_commit="abc123")
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(workspaces, "commit", racing)
    with pytest.raises(CawError) as info:
        client.call("workspace_update", id=ws["id"], status="abandoned", cleanup_worktree=True, force=True)
    assert info.value.code == "CONFLICT"
    assert disk(site.allowed, site.outside) == files
    again = client.call("workspace_update", id=ws["id"], cleanup_worktree=True, force=True)
    assert again["worktree_removed"], "the worktree put back is still known as caw-lab's"


def caw(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def cli_refused(client: caw_lab.Client, site: Site, *args: str) -> None:
    rows, files = dump(client.db), disk(site.allowed, site.outside)
    done = caw(*args)
    assert done.exit_code == 1 and json.loads(done.stderr)["code"] == "PATH_OUTSIDE_ROOTS", done.output
    assert dump(client.db) == rows and disk(site.allowed, site.outside) == files


def test_caw_export_writes_only_inside_the_roots(db_path: Path, site: Site) -> None:
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": "a"}])
        hostile = hostile_paths(site)
        (site.allowed / "bundle.json").symlink_to(site.victim / "app.py")
        for path in (
            str(site.outside / "bundle.json"),
            str(site.allowed / "bundle.json"),
            hostile["dot-dot through the root"] + "/bundle.json",
            hostile["symlinked parent"] + "/x.json",
        ):
            cli_refused(client, site, "--db", str(db_path), "export", wf["id"], "-o", path)
        written = caw("--db", str(db_path), "export", wf["id"], "-o", str(site.allowed / "ok.json"))
        assert written.exit_code == 0 and json.loads((site.allowed / "ok.json").read_text())["workflow_id"] == wf["id"]


def test_caw_import_reads_only_inside_the_roots(db_path: Path, site: Site, tmp_path: Path) -> None:
    with caw_lab.connect(tmp_path / "other.db") as source:
        wf = make_workflow(source, [{"name": "a"}])
    bundle = site.outside / "bundle.json"
    bundle.write_text(caw("--db", str(tmp_path / "other.db"), "export", wf["id"]).stdout)
    (site.allowed / "in.json").symlink_to(bundle)
    with caw_lab.connect(db_path) as client:
        for path in (str(bundle), str(site.allowed / "in.json"), str(site.repo / ".." / ".." / "outside/bundle.json")):
            cli_refused(client, site, "--db", str(db_path), "import", path)
        (site.allowed / "in.json").unlink()
        (site.allowed / "in.json").write_text(bundle.read_text())
        assert caw("--db", str(db_path), "import", str(site.allowed / "in.json")).exit_code == 0


def test_by_default_the_roots_are_home_and_the_project(
    client: caw_lab.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset CAW_ALLOWED_ROOTS means the home directory and the repository caw-lab runs in;
    a server started in ``/`` (not a repository) is not allowed everything."""
    home, project, elsewhere = tmp_path / "home", make_repo(tmp_path / "project"), make_repo(tmp_path / "elsewhere")
    (project / "sub").mkdir()
    monkeypatch.delenv("CAW_ALLOWED_ROOTS", raising=False)
    monkeypatch.delenv("CAW_REPO_PATH", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project / "sub")
    assert client.call("repository_register", path=str(home / "code"))["path"] == str(home / "code")
    assert client.call("repository_register", path="..")["path"] == str(project)
    site = Site(project, elsewhere, project, elsewhere)
    for path in ("/", str(elsewhere), "../../elsewhere"):
        refused(client, site, "PATH_OUTSIDE_ROOTS", lambda p=path: client.call("repository_register", path=p))
    monkeypatch.chdir("/")
    refused(client, site, "PATH_OUTSIDE_ROOTS", lambda: client.call("repository_register", path=str(project / "x")))


def test_an_executor_never_starts_an_agent_outside_the_roots(db_path: Path, site: Site) -> None:
    """A working directory in a workflow's config (which any client may set) is checked before
    the run writes anything, and a workspace row pointing out is refused when an agent would start there."""
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": "a"}])
        client.call("workflow_set_config", id=wf["id"], config={"execution": {"cwd": str(site.victim)}})

        def run() -> Any:
            return Executor(str(db_path), wf["id"], overrides={"runtime": "python"},
                            runtimes={"python": PythonRuntime(lambda task, ctx: "ran")}, connect=caw_lab.connect).run()

        refused(client, site, "PATH_OUTSIDE_ROOTS", run)
        assert client.call("task_get", id=wf["tasks"]["a"])["status"] == "pending"
