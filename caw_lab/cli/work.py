"""``caw work``: issues in, pull requests out, as the reference's ``caw work`` (its
docs/self-development.md): read the issues from GitHub or GitLab, plan a task per issue in a
branch and worktree of its own, run the agents, open a pull (merge) request per issue, and
say on each issue what happened.

Exit status: 0 when every issue got its pull request; 3 when some did and some were
refused; 1 when the run did not complete or no pull request could be opened; a refused
request (bad references, a hostile branch, the forge answering 401/404/500 or garbage) is
the CawError on stderr with status 1, and nothing was created.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from caw_lab.cli import main
from caw_lab.cli.output import visible
from caw_lab.cli.pr import CycleOptions, run_cycle
from caw_lab.cli.run import AgentCount, database, execute
from caw_lab.errors import CawError
from caw_lab.gitops import work as plan_of
from caw_lab.gitops.forge import Forge, Issue
from caw_lab.runtimes.mcp_config import caw_command
from caw_lab.runtimes.registry import names
from caw_lab.tools.client import Client, connect

PARTIAL_EXIT = 3
FLAGS = {"max_budget_usd": "max-budget"}


@dataclass
class Made:
    """What ``caw work`` created, to undo if a later step is refused."""

    workflow_id: str
    workspaces: dict[int, dict[str, Any]] = field(default_factory=dict)


@main.command()
@click.argument("issues", nargs=-1, required=True)
@click.option("--branch", help="Branch name (default caw/issue-<n>; with several issues, <branch>-<n>).")
@click.option("--max-agents", type=AgentCount(), help="Agents at once, 1 to 100, or auto (default: one per issue).")
@click.option("--model", help="Model for the LLM runtimes.")
@click.option("--runtime", help=f"Runtime for the tasks ({', '.join(names())}).")
@click.option("--permission-mode", type=click.Choice(["acceptEdits", "bypassPermissions"]),
              help="Claude Code permission mode (default: bypassPermissions).")
@click.option("--max-turns", type=click.IntRange(min=1), help="Turn limit per task (default: 50).")
@click.option("--max-budget", "max_budget_usd", type=click.FloatRange(min=0), help="Budget per task in USD.")
@click.option("--remote", default="origin", show_default=True,
              help="The git remote whose GitHub or GitLab repository holds the issues and gets the pull requests.")
@click.option("--cycle", type=click.Choice(["auto", "hitl", "off"]), default="off", show_default=True,
              help="Then run `caw pr cycle` on the pull requests: auto merges when checks pass, hitl asks first.")
@click.option("--watch/--no-watch", default=True, show_default=True, help="Show progress while it runs.")
@click.option("--detach", is_flag=True, help="Check the issues, then do the work in the background (logged to a file).")
@click.option("--db", "run_db", metavar="PATH", help="Database, as the global --db.")
@click.option("--pass-env", "pass_env", multiple=True, metavar="NAME",
              help="Let agents inherit this secret variable (or glob); repeatable.")
def work(issues: tuple[str, ...], branch: str | None, max_agents: int | str | None, model: str | None,
         runtime: str | None, permission_mode: str | None, max_turns: int | None, max_budget_usd: float | None,
         remote: str, cycle: str, watch: bool, detach: bool, run_db: str | None, pass_env: tuple[str, ...]) -> None:
    """Work on issues (#12, 12, 10-14, or URLs): plan, run agents, open a pull request per issue."""
    db = database(run_db)
    planned = plan_of.prepare(os.getcwd(), list(issues), branch, remote)
    with planned.hosted.client() as forge:
        found = plan_of.read_issues(forge, planned)
        if detach:
            click.echo(background(db, planned))
            return
        made = start(db, forge, planned, found)
        overrides = {"max_agents": max_agents, "runtime": runtime, "model": model,
                     "permission_mode": permission_mode, "max_turns": max_turns, "max_budget_usd": max_budget_usd}
        outcome = execute(db, made.workflow_id, overrides, env_passthrough=pass_env, watch=watch)
        if outcome.status != "completed":
            for issue in found:
                say(forge, planned, issue.number, plan_of.stopped(outcome.status, outcome.message))
            click.echo(visible(f"{outcome.status}: {outcome.message}"))
            raise SystemExit(1)
        with connect(db) as client:
            opened, refused = open_pulls(client, forge, planned, made)
    status = report(opened, refused, planned.hosted.pull_word)
    if cycle != "off" and opened:
        cycled = run_cycle(made.workflow_id, CycleOptions(cycle, remote=remote, db=db))
        status = status or cycled
    raise SystemExit(status)


def background(db: str, planned: plan_of.Work) -> str:
    """This same ``caw work`` (without ``--detach``) as a process of its own session, which
    outlives this one, once its input was found good; returns what to tell the user."""
    params = click.get_current_context().params
    flags = [f"--{FLAGS.get(key, key.replace('_', '-'))}={value}" for key, value in params.items()
             if key not in ("issues", "detach", "watch", "run_db", "pass_env") and value is not None]
    flags += [f"--pass-env={name}" for name in params["pass_env"]]
    log = Path(tempfile.gettempdir()) / f"caw-work-{'-'.join(map(str, planned.branches))}-{os.getpid()}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([*caw_command(), "--db", db, "work", *flags, "--no-watch", "--", *params["issues"]],
                                   cwd=planned.repo_path, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return f"Working on {len(planned.branches)} issue(s) in the background (pid {process.pid}, log {log})."


def start(db: str, forge: Forge, planned: plan_of.Work, found: list[Issue]) -> Made:
    """The work made, and said on each issue."""
    for issue in found:
        click.echo(visible(f"  #{issue.number}: {issue.title}"), err=True)
    with connect(db) as client:
        made = create(client, planned, found)
    click.echo(f"Created workflow: {made.workflow_id}", err=True)
    for issue in found:
        say(forge, planned, issue.number, plan_of.started(made.workflow_id, planned.branches[issue.number]))
    return made


def create(client: Client, planned: plan_of.Work, found: list[Issue]) -> Made:
    """The workflow, its plan and a worktree per issue; undone whole if any part is refused."""
    single = found[0] if len(found) == 1 else None
    workflow = client.call(
        "workflow_create", name=plan_of.workflow_name(found), source_content=plan_of.source(found),
        source_type="github_issue" if planned.hosted.kind == "github" else "custom",
        source_ref=single.url if single else None, max_parallel_tasks=len(found))
    made = Made(workflow["id"])
    try:
        plan = client.call("workflow_set_plan", id=made.workflow_id, plan=plan_of.plan(found, planned))
        for issue, task in zip(found, plan["tasks"], strict=True):
            link = {"kind": planned.hosted.kind, "repo": planned.hosted.repo, "number": issue.number,
                    "url": issue.url}
            made.workspaces[issue.number] = client.call(
                "workspace_create", workflow_id=made.workflow_id, branch=planned.branches[issue.number],
                create_worktree=True, repo_path=planned.repo_path, base_branch=planned.base,
                task_ids=[task["id"]], config={"issue": link})
    except CawError:
        undo(client, made)
        raise
    return made


def undo(client: Client, made: Made) -> None:
    for workspace in made.workspaces.values():
        client.call("workspace_update", id=workspace["id"], status="abandoned", cleanup_worktree=True)
    client.call("workflow_update_status", id=made.workflow_id, status="abandoned",
                reason="caw work could not prepare the work")


def open_pulls(client: Client, forge: Forge, planned: plan_of.Work,
               made: Made) -> tuple[dict[int, str], dict[int, CawError]]:
    """A pull request per issue's workspace, each result said on its issue."""
    opened: dict[int, str] = {}
    refused: dict[int, CawError] = {}
    for number, workspace in made.workspaces.items():
        try:
            pull = client.call("workspace_open_pr", workspace_id=workspace["id"], remote=planned.remote)
        except CawError as err:
            refused[number] = err
            say(forge, planned, number, plan_of.stopped("completed", "the work is done",
                                                        f"the {planned.hosted.pull_word} was refused: {err.message}"))
            continue
        opened[number] = pull["pr_url"]
        say(forge, planned, number, plan_of.opened(planned.hosted.pull_word, pull["pr_url"]))
    return opened, refused


def say(forge: Forge, planned: plan_of.Work, number: int, text: str) -> None:
    """A comment on the issue; one the forge refuses is a warning, not the end of the work."""
    try:
        forge.comment(planned.hosted.repo, number, text)
    except CawError as err:
        click.echo(visible(f"warning: could not comment on #{number}: {err.code}: {err.message}"), err=True)


def report(opened: dict[int, str], refused: dict[int, CawError], pull_word: str) -> int:
    """Print each issue's result and the outcome line; return the exit status."""
    for number, url in opened.items():
        click.echo(visible(f"#{number}: {url}"))
    for number, err in refused.items():
        click.echo(visible(f"#{number}: {pull_word} refused: {err.code}: {err.message}"))
    total = len(opened) + len(refused)
    if not refused:
        click.echo(f"completed: {total} {pull_word}(s) opened")
        return 0
    if opened:
        click.echo(f"partial: {len(opened)} of {total} {pull_word}(s) opened, {len(refused)} refused")
        return PARTIAL_EXIT
    click.echo(f"failed: the work is done but every {pull_word} ({total}) was refused")
    return 1
