"""``caw work`` and ``caw pr`` as real processes: a real repository whose remote names
github.com (or a GitLab) while git's ``insteadOf`` sends its pushes and fetches to a local
bare repository, agents that are small Python scripts run by the subprocess runtime
(``forge_agent.py``), and the forge's REST API served by local stand-ins that speak its
protocol (``github_server``, ``gitlab_server``): GitHub and GitLab cannot be reached from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import caw_lab
from caw_lab.cli import main
from github_server import TOKEN, Forge, running_forge
from gitlab_server import TOKEN as GITLAB_TOKEN
from gitlab_server import GitLabForge, running_gitlab

TESTS = Path(__file__).resolve().parent
CAW = str(Path(sys.executable).with_name("caw"))
REPO = "octo/app"
PROJECT = "group/app"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """A repository on ``main`` whose origin is ``url``, git sending it to a local bare repository."""
    bare, repo = tmp_path / "origin.git", tmp_path / "repo"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    (repo / "README.md").write_text("app\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "start")
    git(repo, "remote", "add", "origin", url)
    git(repo, "config", f"url.{bare}.insteadOf", url)
    git(repo, "push", "-q", "origin", "main")
    return repo, bare


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    runtimes = tmp_path / "runtimes.toml"
    runtimes.write_text(f"[subprocess]\ncommand = {json.dumps([sys.executable, str(TESTS / 'forge_agent.py')])}\n")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CAW_", "GITHUB_", "GITLAB_"))}
    return {**keep, "CAW_RUNTIMES": str(runtimes), "CAW_ALLOWED_ROOTS": str(tmp_path),
            "CAW_DB_PATH": str(tmp_path / "caw.db"), "GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "a@example.com",
            "GIT_COMMITTER_NAME": "Agent", "GIT_COMMITTER_EMAIL": "a@example.com",
            "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}


def caw(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def github(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[Forge, Path, Path]]:
    repo, bare = make_repo(tmp_path, f"git@github.com:{REPO}.git")
    with running_forge(bare) as forge:
        env.update(CAW_GITHUB_API_URL=forge.url, GITHUB_TOKEN=TOKEN)
        forge.add_issue(REPO, 7, "Users cannot sign in", "The login form rejects every password.", labels=("bug",))
        forge.add_issue(REPO, 8, "Search is slow", "Search takes seconds.")
        yield forge, repo, bare


def workflow_of(db: Path) -> dict[str, Any]:
    with caw_lab.connect(str(db)) as client:
        [listed] = client.call("workflow_list")["workflows"]
        return client.call("workflow_get", id=listed["id"], include_tasks=True)


def workspaces_of(db: Path, workflow_id: str) -> list[dict[str, Any]]:
    with caw_lab.connect(str(db)) as client:
        return client.call("workspace_list", workflow_id=workflow_id)["workspaces"]


def test_work_turns_issues_into_pull_requests_and_the_cycle_merges_them_and_closes_the_issues(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge, repo, bare = github
    done = caw(repo, env, "work", "#7", f"https://github.com/{REPO}/issues/8", "--runtime", "subprocess",
               "--no-watch", "--max-agents", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "completed: 2 pull request(s) opened"
    assert TOKEN not in done.stdout + done.stderr

    workflow = workflow_of(tmp_path / "caw.db")
    assert workflow["status"] == "completed" and workflow["name"] == "Work on #7, #8"
    assert "### Issue #7: Users cannot sign in [bug]" in workflow["source_content"]
    for task, number in zip(workflow["tasks"], (7, 8), strict=True):
        outcome = json.loads(task["outcome"])
        assert outcome["cwd"].endswith(f"caw-issue-{number}"), outcome  # each agent ran in its issue's worktree
        assert git(bare, "rev-parse", f"caw/issue-{number}") == outcome["commit"]
    bodies = {pull["head"]["ref"]: pull for pull in forge.pulls}
    assert set(bodies) == {"caw/issue-7", "caw/issue-8"}
    assert "Closes #7" in bodies["caw/issue-7"]["body"] and "Closes #8" not in bodies["caw/issue-7"]["body"]
    assert bodies["caw/issue-8"]["base"]["ref"] == "main"
    said = [(number, text.split(":")[0]) for _, number, text in forge.comments]
    assert said == [(7, "caw-lab is working on this issue"), (8, "caw-lab is working on this issue"),
                    (7, "caw-lab finished the work and opened a pull request"),
                    (8, "caw-lab finished the work and opened a pull request")]
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in forge.requests)

    listed = invoke(repo, env, monkeypatch, "pr", "list")
    assert listed.exit_code == 0 and listed.stdout.count("https://github.com/octo/app/pull/") == 2, listed.stdout
    forge.checks["caw/issue-8"] = [{"name": "tests", "status": "completed", "conclusion": "failure"}]
    cycled = invoke(repo, env, monkeypatch, "pr", "cycle", workflow["id"], "--ci-poll", "0.05", "--ci-timeout", "5",
                    "--ci-fix-iterations", "0", "--no-review")
    assert cycled.exit_code == 1, cycled.stdout + cycled.stderr  # one pull request could not be merged
    assert "Merged: 1, Skipped: 1" in cycled.stdout and "failed: tests (failure)" in cycled.stdout
    pull = forge.pull_for("caw/issue-7")
    assert pull["merged"] and git(bare, "rev-parse", "main") == pull["merge_commit_sha"]
    assert forge.issues[(REPO, 7)]["state"] == "closed" and forge.issues[(REPO, 8)]["state"] == "open"
    assert forge.comments[-1][1] == 7 and forge.comments[-1][2].startswith("Merged in https://github.com/")
    spaces = {w["branch"]: w for w in workspaces_of(tmp_path / "caw.db", workflow["id"])}
    assert spaces["caw/issue-7"]["status"] == "merged" and not Path(spaces["caw/issue-7"]["path"]).exists()
    assert spaces["caw/issue-8"]["status"] == "active"

    forge.checks["caw/issue-8"] = [{"name": f"job {i}", "status": "completed", "conclusion": "success"}
                                   for i in range(130)]  # two pages of check runs
    again = invoke(repo, env, monkeypatch, "pr", "cycle", workflow["id"], "--ci-poll", "0.05", "--ci-timeout", "5",
                   "--no-review")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "130 check(s) passed" in again.stdout
    assert forge.issues[(REPO, 8)]["state"] == "closed"
    assert git(bare, "rev-parse", "main") == forge.pull_for("caw/issue-8")["merge_commit_sha"]
    assert git(bare, "show", "main:issue-7.txt", "main:issue-8.txt").splitlines() == ["fixed issue 7", "fixed issue 8"]
    assert invoke(repo, env, monkeypatch, "pr", "list").stdout.strip() == "No workflows awaiting merge."
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # every issue's worktree removed once merged


def use(repo: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """This process in ``repo`` with ``env``, as ``caw`` would be started."""
    for name in [n for n in os.environ if n.startswith(("CAW_", "GITHUB_", "GITLAB_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(repo)


def invoke(repo: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """``caw`` in this process (agents still run as processes): for the many refusals, quickly."""
    use(repo, env, monkeypatch)
    return CliRunner().invoke(main, list(args))


def nothing_made(repo: Path, db: Path) -> None:
    assert git(repo, "branch", "--format=%(refname:short)").splitlines() == ["main"]
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    if db.exists():
        with caw_lab.connect(str(db)) as client:
            assert client.call("workflow_list")["workflows"] == []


def refusal(result: Result) -> dict[str, Any]:
    assert result.exit_code == 1, result.output
    return json.loads(result.stderr.strip().splitlines()[-1])


HOSTILE = [
    (["abc"], "is not an issue reference"),
    (["#0"], "is not an issue reference"),
    (["7;rm -rf /"], "is not an issue reference"),
    (["12-3"], "Invalid issue range"),
    (["1-500"], "Invalid issue range"),
    (["https://github.com/other/repo/issues/3"], "is an issue of other/repo, not of octo/app"),
    (["https://evil.example/octo/app/pulls/3"], "is not an issue reference"),
    (["7", "--branch", "-rf"], "Invalid branch name"),
    (["7", "--branch", "--upload-pack=x"], "Invalid branch name"),
    (["7", "--branch", "a..b"], "Invalid branch name"),
    (["7", "--remote", "--upload-pack=evil"], "is not a git remote name"),
    (["7", "--remote", "nowhere"], "there is no such remote"),
]


@pytest.mark.parametrize(("args", "said"), HOSTILE, ids=[" ".join(a) for a, _ in HOSTILE])
def test_bad_references_branches_and_remotes_are_refused_before_anything(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], said: str,
) -> None:
    forge, repo, _ = github
    err = refusal(invoke(repo, env, monkeypatch, "work", *args, "--runtime", "subprocess"))
    assert err["code"] == "INVALID_INPUT" and said in err["message"], err
    assert forge.requests == [] and forge.comments == []
    nothing_made(repo, tmp_path / "caw.db")


FAULTS = [
    ((401, '{"message": "Bad credentials"}'), "GITHUB_UNAUTHORIZED", "Bad credentials"),
    ((404, '{"message": "Not Found"}'), "GITHUB_NOT_FOUND", "Not Found"),
    ((500, "<html>Internal error</html>"), "GITHUB_UNAVAILABLE", "answered 500"),
    ((200, "<html>a captive portal</html>"), "GITHUB_UNAVAILABLE", "not what its API returns"),
    ((200, '{"number": "seven", "title": 7}'), "GITHUB_UNAVAILABLE", "not what its API returns"),
    ((200, "[]"), "GITHUB_UNAVAILABLE", "not what its API returns"),
]


@pytest.mark.parametrize(("fault", "code", "said"), FAULTS, ids=[c + str(f[0]) for f, c, _ in FAULTS])
def test_a_forge_answering_errors_or_garbage_is_refused_and_nothing_is_made(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    fault: tuple[int, str], code: str, said: str,
) -> None:
    forge, repo, _ = github
    forge.fault = fault
    result = invoke(repo, env, monkeypatch, "work", "7", "8", "--runtime", "subprocess")
    err = refusal(result)
    assert err["code"] == code and said in err["message"], err
    assert TOKEN not in result.output + result.stderr
    nothing_made(repo, tmp_path / "caw.db")


def test_an_existing_branch_or_a_closed_issue_is_refused_before_anything(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, _ = github
    forge.issues[(REPO, 8)]["state"] = "closed"
    err = refusal(invoke(repo, env, monkeypatch, "work", "7", "8"))
    assert err["code"] == "INVALID_INPUT" and "#8 of octo/app are closed" in err["message"]
    nothing_made(repo, tmp_path / "caw.db")
    git(repo, "branch", "caw/issue-7")
    err = refusal(invoke(repo, env, monkeypatch, "work", "7"))
    assert err["code"] == "BRANCH_EXISTS"
    assert forge.comments == []


def test_a_run_whose_pull_requests_are_refused_does_not_report_success(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, _ = github
    forge.pulls.append({"repo": REPO, "number": 1, "head": {"ref": "fix-8"}})  # opened by someone else meanwhile
    partial = invoke(repo, env, monkeypatch, "work", "7", "8", "--branch", "fix", "--runtime", "subprocess",
                     "--no-watch")
    assert partial.exit_code == 3, partial.output + partial.stderr
    assert partial.stdout.splitlines()[-1] == "partial: 1 of 2 pull request(s) opened, 1 refused"
    assert "#8: pull request refused: GITHUB_REFUSED" in partial.stdout
    assert [pull["head"]["ref"] for pull in forge.pulls[1:]] == ["fix-7"]
    assert "the pull request was refused" in forge.comments[-1][2] and forge.comments[-1][1] == 8

    forge.refuse_pulls = True
    forge.add_issue(REPO, 9, "Typo", "teh")
    failed = invoke(repo, env, monkeypatch, "work", "9", "--runtime", "subprocess", "--no-watch")
    assert failed.exit_code == 1, failed.output
    assert failed.stdout.splitlines()[-1] == "failed: the work is done but every pull request (1) was refused"


@pytest.fixture
def gitlab(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[GitLabForge, Path, Path]]:
    with running_gitlab() as forge:
        repo, bare = make_repo(tmp_path, f"{forge.url}/{PROJECT}.git")
        forge.bare = bare
        env.update(CAW_GITLAB_URL=forge.url, GITLAB_TOKEN=GITLAB_TOKEN)
        forge.add_issue(PROJECT, 3, "Crash on empty input", "It crashes.")
        yield forge, repo, bare


def test_the_cycle_has_an_agent_fix_failing_checks_pushes_the_fix_and_merges_once_they_pass(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stand-in CI fails a commit holding a TODO line (and, for issue 8, always): the fixing
    agent of the cycle drops the TODOs in the pull request's worktree, the cycle pushes that and
    #7 then passes and is merged; #8 still fails, its second fix changes nothing, it is skipped."""
    forge, repo, bare = github
    env["FORGE_AGENT_TODO"] = "1"
    done = caw(repo, env, "work", "#7", "#8", "--runtime", "subprocess", "--no-watch", "--max-agents", "2")
    assert done.returncode == 0, done.stderr
    workflow = workflow_of(tmp_path / "caw.db")
    agents_commit = {n: git(bare, "rev-parse", f"caw/issue-{n}") for n in (7, 8)}

    def ci(sha: str) -> list[dict[str, Any]]:
        todo = subprocess.run(["git", "-C", str(bare), "grep", "-q", "TODO", sha]).returncode == 0
        broken = subprocess.run(["git", "-C", str(bare), "cat-file", "-e", f"{sha}:issue-8.txt"]).returncode == 0
        return [{"name": "lint", "status": "completed", "conclusion": "failure" if todo else "success"},
                {"name": "tests", "status": "completed", "conclusion": "failure" if broken else "success"}]

    forge.ci = ci
    cycled = invoke(repo, env, monkeypatch, "pr", "cycle", workflow["id"], "--ci-poll", "0.05", "--ci-timeout", "5",
                    "--ci-fix-iterations", "2", "--no-review")
    out = cycled.stdout
    assert cycled.exit_code == 1, out + cycled.stderr
    assert "Merged: 1, Skipped: 1" in out and "Asking an agent to fix them (2/2)" in out
    assert "issue-8 - checks failed: tests (failure); the agent committed nothing" in out
    pull = forge.pull_for("caw/issue-7")
    assert pull["merged"] and forge.issues[(REPO, 7)]["state"] == "closed"
    assert git(bare, "show", "main:issue-7.txt") == "fixed issue 7"
    fixed = git(bare, "rev-parse", "caw/issue-7")
    assert git(bare, "rev-parse", f"{fixed}^") == agents_commit[7], "the fix is one commit on top of the agent's"
    assert git(bare, "log", "-1", "--format=%s", "caw/issue-8") == "drop the TODOs the checks fail on"
    with caw_lab.connect(str(tmp_path / "caw.db")) as client:
        fixers = [w for w in client.call("workflow_list")["workflows"]
                  if w["name"].startswith("Fix the failing checks of")]
        assert len(fixers) == 3 and {w["status"] for w in fixers} == {"completed"}
        spaces = {w["branch"]: w for w in client.call("workspace_list", workflow_id=workflow["id"])["workspaces"]}
    outcome_dirs = {json.loads(client_task["outcome"])["cwd"] for client_task in fixer_tasks(tmp_path, fixers)}
    assert outcome_dirs == {spaces["caw/issue-7"]["path"], spaces["caw/issue-8"]["path"]}


def fixer_tasks(tmp_path: Path, fixers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with caw_lab.connect(str(tmp_path / "caw.db")) as client:
        return [t for w in fixers for t in client.call("workflow_get", id=w["id"], include_tasks=True)["tasks"]]


def test_work_on_gitlab_opens_a_merge_request_and_the_cycle_merges_it_when_its_pipeline_passes(
    gitlab: tuple[GitLabForge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge, repo, bare = gitlab
    done = caw(repo, env, "work", f"{forge.url}/{PROJECT}/-/issues/3", "--branch", "fix/empty", "--runtime",
               "subprocess", "--no-watch")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "completed: 1 merge request(s) opened"
    [mr] = forge.merge_requests
    assert (mr["source_branch"], mr["target_branch"]) == ("fix/empty", "main") and "Closes #3" in mr["description"]
    assert git(bare, "show", "fix/empty:issue-3.txt") == "fixed issue 3"
    assert [text.split(":")[0] for _, _, text in forge.notes] == [
        "caw-lab is working on this issue", "caw-lab finished the work and opened a merge request"]
    assert all("%2F" in path for _, path, _ in forge.requests)  # the project path is sent encoded
    assert all(token == GITLAB_TOKEN for _, _, token in forge.requests)

    forge.pipelines["fix/empty"] = [{"id": 12, "status": "running"}]
    pending = invoke(repo, env, monkeypatch, "pr", "cycle", "--ci-poll", "0.05", "--ci-timeout", "0.2", "--no-review")
    assert pending.exit_code == 1 and "timeout after 0.2 s (pipeline 12 running)" in pending.stdout
    forge.pipelines["fix/empty"] = [{"id": 13, "status": "success"}, {"id": 12, "status": "failed"}]
    merged = invoke(repo, env, monkeypatch, "pr", "cycle", "--ci-poll", "0.05", "--merge-method", "merge",
                    "--no-review")
    assert merged.exit_code == 0, merged.stdout + merged.stderr
    assert mr["state"] == "merged" and git(bare, "rev-parse", "main") == mr["merge_commit_sha"]
    assert forge.issues[(PROJECT, 3)]["state"] == "closed" and forge.notes[-1][2].startswith("Merged in https://")


def issues_seven_and_eight_worked_and_seven_merged(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> tuple[dict[str, Any], str]:
    """`caw work 7 8` in one shared file, then someone merges #7's pull request on GitHub, so #8's
    branch conflicts with main; returns the workflow and #8's branch tip before anything else."""
    from caw_lab.gitops.github import GitHub

    forge, repo, bare = github
    env["FORGE_AGENT_SHARED"] = "1"
    done = invoke(repo, env, monkeypatch, "work", "7", "8", "--runtime", "subprocess", "--no-watch")
    assert done.exit_code == 0, done.output + done.stderr
    with GitHub(api=forge.url, token=TOKEN) as github_api:
        github_api.merge_pull(REPO, forge.pull_for("caw/issue-7")["number"], "merge")
    return workflow_of(tmp_path / "caw.db"), git(bare, "rev-parse", "caw/issue-8")


def test_pr_check_merge_and_rebase_complete_merged_work_and_never_lose_a_conflicting_branch(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, bare = github
    workflow, before = issues_seven_and_eight_worked_and_seven_merged(github, env, tmp_path, monkeypatch)
    spaces = {w["branch"]: w for w in workspaces_of(tmp_path / "caw.db", workflow["id"])}

    rebased = invoke(repo, env, monkeypatch, "pr", "rebase", workflow["id"])
    assert rebased.exit_code == 1 and "REBASE_CONFLICT" in rebased.stderr and "shared.txt" in rebased.stderr
    worktree = Path(spaces["caw/issue-8"]["path"])
    assert git(bare, "rev-parse", "caw/issue-8") == before == git(worktree, "rev-parse", "HEAD")
    assert git(worktree, "status", "--porcelain") == "" and not (worktree / ".git").is_dir()

    not_yet = refusal(invoke(repo, env, monkeypatch, "pr", "merge", spaces["caw/issue-8"]["id"]))
    assert not_yet["code"] == "PR_NOT_MERGED"
    checked = invoke(repo, env, monkeypatch, "pr", "check")
    assert checked.exit_code == 0, checked.output
    assert "Checked: 2, Merged: 1, Open: 1" in checked.stdout
    assert "Open: caw/issue-8 (open, CONFLICTING)" in checked.stdout
    assert forge.issues[(REPO, 7)]["state"] == "closed" and forge.issues[(REPO, 8)]["state"] == "open"
    merged = {w["branch"]: w for w in workspaces_of(tmp_path / "caw.db", workflow["id"])}["caw/issue-7"]
    assert (merged["status"], merged["merge_commit"]) == ("merged", git(bare, "rev-parse", "main"))
    assert not Path(merged["path"]).exists() and worktree.exists()


def test_the_cycle_has_an_agent_resolve_a_rebase_that_conflicts_then_merges_the_pull_request(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, bare = github
    workflow, before = issues_seven_and_eight_worked_and_seven_merged(github, env, tmp_path, monkeypatch)

    cycled = invoke(repo, env, monkeypatch, "pr", "cycle", workflow["id"], "--ci-poll", "0.05", "--ci-timeout", "5")
    assert cycled.exit_code == 0, cycled.stdout + cycled.stderr
    assert "Asking an agent to resolve the conflicts" in cycled.stdout and "Merged: 2, Skipped: 0" in cycled.stdout
    assert git(bare, "show", "main:shared.txt").splitlines() == ["issue 7 was here", "issue 8 was here"]
    assert git(bare, "show", "main:issue-8.txt") == "fixed issue 8"
    rebased = forge.pull_for("caw/issue-8")["head"]["sha"]
    assert rebased != before and git(bare, "log", "-1", "--format=%s", rebased) == "fix #8"
    assert forge.issues[(REPO, 8)]["state"] == "closed"
    assert workflow_of_status(tmp_path / "caw.db", workflow["id"]) == "completed"


def test_a_reviewing_agent_that_refuses_the_change_keeps_the_pull_request_from_being_merged(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, bare = github
    done = invoke(repo, env, monkeypatch, "work", "7", "--runtime", "subprocess", "--no-watch")
    assert done.exit_code == 0, done.output + done.stderr
    workflow = workflow_of(tmp_path / "caw.db")
    env["FORGE_AGENT_REJECT"] = "the login change has no test"
    cycled = invoke(repo, env, monkeypatch, "pr", "cycle", workflow["id"], "--ci-poll", "0.05", "--ci-timeout", "5")
    assert cycled.exit_code == 1, cycled.stdout + cycled.stderr
    assert "Skipped: caw/issue-7 - review: the agent did not finish (the login change has no test)" in cycled.stdout
    assert not forge.pull_for("caw/issue-7")["merged"] and forge.issues[(REPO, 7)]["state"] == "open"
    assert git(bare, "rev-parse", "main") == git(repo, "rev-parse", "main")


def workflow_of_status(db: Path, workflow_id: str) -> str:
    with caw_lab.connect(str(db)) as client:
        return str(client.call("workflow_get", id=workflow_id)["status"])


def test_a_clean_rebase_is_pushed_with_a_lease_and_a_moved_remote_is_not_overwritten(tmp_path: Path,
                                                                                      monkeypatch: pytest.MonkeyPatch
                                                                                      ) -> None:
    from caw_lab.errors import CawError
    from caw_lab.gitops.merging import rebase_worktree

    monkeypatch.setenv("CAW_ALLOWED_ROOTS", str(tmp_path))
    repo, bare = make_repo(tmp_path, "git@github.com:octo/app.git")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "topic", str(worktree), "main")
    (worktree / "topic.txt").write_text("topic\n")
    git(worktree, "add", "topic.txt")
    git(worktree, "commit", "-q", "-m", "topic")
    git(worktree, "push", "-q", "origin", "topic")
    (repo / "base.txt").write_text("base moved\n")
    git(repo, "add", "base.txt")
    git(repo, "commit", "-q", "-m", "base moves")
    git(repo, "push", "-q", "origin", "main")

    done = rebase_worktree(str(worktree), "origin", "topic", "main")
    assert done.moved and git(bare, "rev-parse", "topic") == done.after == git(worktree, "rev-parse", "HEAD")
    assert git(bare, "rev-parse", "topic^") == git(bare, "rev-parse", "main")

    git(repo, "push", "-q", "--force", "origin", "main~1:refs/heads/topic")  # someone else rewrote topic
    (repo / "more.txt").write_text("more\n")
    git(repo, "add", "more.txt")
    git(repo, "commit", "-q", "-m", "base moves again")
    git(repo, "push", "-q", "origin", "main")
    theirs = git(bare, "rev-parse", "topic")
    with pytest.raises(CawError) as refused:
        rebase_worktree(str(worktree), "origin", "topic", "main")
    assert refused.value.code == "GIT_PUSH_FAILED"
    assert git(bare, "rev-parse", "topic") == theirs and git(worktree, "rev-parse", "HEAD") == done.after
    for hostile in (("-x", "main"), ("topic", "--upload-pack=evil")):
        with pytest.raises(CawError, match="Invalid branch name"):
            rebase_worktree(str(worktree), "origin", *hostile)
    with pytest.raises(CawError) as outside:
        rebase_worktree("/etc", "origin", "topic", "main")
    assert outside.value.code == "PATH_OUTSIDE_ROOTS"


def test_work_with_cycle_auto_merges_its_pull_request_and_closes_the_issue(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, bare = github
    done = invoke(repo, env, monkeypatch, "work", "7", "--cycle", "auto", "--runtime", "subprocess", "--no-watch")
    assert done.exit_code == 0, done.output + done.stderr
    assert "completed: 1 pull request(s) opened" in done.stdout and "Merged: 1, Skipped: 0" in done.stdout
    assert forge.pull_for("caw/issue-7")["merged"] and forge.issues[(REPO, 7)]["state"] == "closed"
    assert git(bare, "show", "main:issue-7.txt") == "fixed issue 7"


def test_caw_run_whose_pull_requests_are_all_refused_exits_1(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, _ = github
    forge.refuse_pulls = True
    use(repo, env, monkeypatch)
    with caw_lab.connect(str(tmp_path / "caw.db")) as client:
        wf = client.call("workflow_from_issue", repo=REPO, number=7)
        [task] = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": [
            {"name": "#7: sign in"}]})["tasks"]
        client.call("workspace_create", workflow_id=wf["id"], branch="caw/login", create_worktree=True,
                    repo_path=str(repo), task_ids=[task["id"]])
        client.call("workflow_set_config", id=wf["id"], config={"execution": {
            "open_pull_requests": True, "runtime": "subprocess", "poll_interval_ms": 50}})
    ran = invoke(repo, env, monkeypatch, "run", wf["id"], "--no-watch")
    assert ran.exit_code == 1, ran.output + ran.stderr
    assert ran.stdout.splitlines()[-2:] == ["completed: all 1 tasks done",
                                            "failed: 0 pull request(s) opened, 1 refused"]


def test_work_detach_checks_the_issues_then_works_in_the_background(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    forge, repo, bare = github
    refused = invoke(repo, env, monkeypatch, "work", "99", "--detach")  # no such issue: said here and now
    assert refusal(refused)["code"] == "GITHUB_NOT_FOUND"
    started = invoke(repo, env, monkeypatch, "work", "#7", "--detach", "--runtime", "subprocess",
                     "--branch", "fix/login")
    assert started.exit_code == 0, started.output + started.stderr
    assert started.stdout.startswith("Working on 1 issue(s) in the background (pid ")
    log = Path(started.stdout.rsplit("log ", 1)[1].rstrip(").\n"))
    deadline = time.monotonic() + 240
    while not forge.pulls and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pull["head"]["ref"] for pull in forge.pulls] == ["fix/login"], log.read_text()
    while "completed: 1 pull request(s) opened" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert git(bare, "show", "fix/login:issue-7.txt") == "fixed issue 7"
    log.unlink()


def test_pr_check_closes_the_issue_a_workflow_was_made_from(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from caw_lab.gitops.github import GitHub

    forge, repo, _ = github
    use(repo, env, monkeypatch)
    with caw_lab.connect(str(tmp_path / "caw.db")) as client:
        wf = client.call("workflow_from_issue", repo=REPO, number=8)
        ws = client.call("workspace_create", workflow_id=wf["id"], branch="caw/search", create_worktree=True,
                         repo_path=str(repo))
        (Path(ws["path"]) / "index.txt").write_text("index\n")
        git(Path(ws["path"]), "add", "index.txt")
        git(Path(ws["path"]), "commit", "-q", "-m", "index")
        opened = client.call("workspace_open_pr", workspace_id=ws["id"])
    with GitHub(api=forge.url, token=TOKEN) as github_api:
        github_api.merge_pull(REPO, opened["number"], "squash")
    checked = invoke(repo, env, monkeypatch, "pr", "check")
    assert "Checked: 1, Merged: 1, Open: 0" in checked.stdout, checked.output + checked.stderr
    assert forge.issues[(REPO, 8)]["state"] == "closed"
    assert forge.comments[-1][2].startswith(f"Merged in https://github.com/{REPO}/pull/{opened['number']}")


def test_work_whose_run_fails_says_so_on_the_issue_and_exits_1(
    github: tuple[Forge, Path, Path], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forge, repo, _ = github
    env["FORGE_AGENT_FAIL"] = "the tests do not pass"
    failed = invoke(repo, env, monkeypatch, "work", "7", "--runtime", "subprocess", "--no-watch")
    assert failed.exit_code == 1, failed.output + failed.stderr
    assert failed.stdout.splitlines()[-1].startswith("failed: 1 task(s) in the dead-letter queue")
    assert forge.pulls == []
    assert forge.comments[-1][2].startswith("caw-lab stopped without a pull request (failed: ")
