"""``caw pr list|check|merge|rebase|cycle``: the reference's pull request cycle, over GitHub's
and GitLab's REST APIs instead of ``gh``.

A pull request awaiting merge is an active workspace with a ``pr_url``. When one is found
merged, its workspace is marked merged with the merge commit, its worktree removed, and the
issue it resolves (the workspace's ``issue`` link, or the workflow's source issue) gets a
comment and is closed. ``cycle`` takes each open one in turn: rebase it if it conflicts,
have an agent review it, wait for its checks, and while they fail (up to ``--ci-fix-iterations`` times) run an agent
in the pull request's worktree to fix them, push what it committed and wait again; then ask
(``--cycle hitl``) or not (``auto``), merge it, then rebase the others that now conflict.

A rebase that conflicts is likewise handed to an agent (``--no-resolve-conflicts``: skipped).
Each agent is an ordinary task: a one-task workflow ("Fix the failing checks of <pull
request>", "Resolve the rebase conflicts of ...") run by the executor with the runtime the
pull request's workflow ran with (or ``--runtime``), whose command comes from
.caw/runtimes.toml as every agent's does, in the worktree of the pull request's workspace.
Before the checks are awaited, a reviewing agent reads the change the same way
(``--no-review`` skips it): what it commits is pushed; failing its task keeps the pull
request from being merged. Exit status 1 when any pull request could not be merged or
checked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import Any

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import visible
from caw_lab.cli.run import database, execute
from caw_lab.engine.states import WORKFLOW_STATUSES
from caw_lab.errors import CawError, invalid_input
from caw_lab.gitops import merging, pull_requests
from caw_lab.gitops.forge import Pull
from caw_lab.gitops.github import MERGE_METHODS
from caw_lab.gitops.remotes import Clients, Hosted, pull_ref
from caw_lab.tools.client import Client, connect

AWAITING_WORKFLOWS = [status for status in WORKFLOW_STATUSES if status != "abandoned"]
"""Where open pull requests are looked for: an abandoned workflow's are left alone."""
LISTED_WORKFLOWS = 1000


@dataclass
class Awaiting:
    """An open pull request's workspace, where it lives on its forge, and its workflow."""

    workspace: dict[str, Any]
    workflow: dict[str, Any]
    hosted: Hosted
    number: int

    @property
    def url(self) -> str:
        return str(self.workspace["pr_url"])


@dataclass
class Summary:
    merged: list[Awaiting] = field(default_factory=list)
    skipped: list[tuple[Awaiting, str]] = field(default_factory=list)


@main.group()
def pr() -> None:
    """Pull requests of finished work: list, check, merge, rebase, cycle (GitHub and GitLab)."""


def awaiting(client: Client, workflow_id: str | None) -> list[Awaiting]:
    """Active workspaces with a pull request, of one workflow or of every workflow that may have them."""
    if workflow_id:
        workflows = [client.call("workflow_get", id=workflow_id)]
    else:
        workflows = client.call("workflow_list", status=AWAITING_WORKFLOWS, limit=LISTED_WORKFLOWS)["workflows"]
    found = []
    for workflow in workflows:
        listed = client.call("workspace_list", workflow_id=workflow["id"], status=["active"])["workspaces"]
        if "source_ref" not in workflow and any(w["pr_url"] for w in listed):
            workflow = client.call("workflow_get", id=workflow["id"])  # the issue it came from, to close
        for workspace in listed:
            if not workspace["pr_url"]:
                continue
            issue = (workspace.get("config") or {}).get("issue") or {}
            try:
                hosted, number = pull_ref(workspace["pr_url"], issue.get("kind"))
            except CawError as err:  # a URL recorded by hand: the others are still worked on
                click.echo(visible(f"warning: workspace {workspace['id']}: {err.message}"), err=True)
                continue
            found.append(Awaiting(workspace, workflow, hosted, number))
    return found


def of_id(client: Client, ident: str) -> list[Awaiting]:
    """A workspace id (its pull request) or a workflow id (all of its)."""
    if ident.startswith("ws_"):
        return [item for item in awaiting(client, None) if item.workspace["id"] == ident]
    return awaiting(client, ident)


@pr.command("list")
@click.argument("workflow_id", required=False)
def list_command(workflow_id: str | None) -> None:
    """List workflows with pull requests awaiting merge."""
    with open_client() as client:
        found = awaiting(client, workflow_id)
    if not found:
        click.echo("No workflows awaiting merge.")
        return
    for workflow_id_, group in grouped(found).items():
        workflow = group[0].workflow
        click.echo(visible(f"{workflow_id_}  {workflow['name']}  ({workflow['status']})"))
        for item in group:
            click.echo(visible(f"  {item.workspace['id']}  {item.workspace['branch']}  PR: {item.url}"))


def grouped(found: list[Awaiting]) -> dict[str, list[Awaiting]]:
    groups: dict[str, list[Awaiting]] = {}
    for item in found:
        groups.setdefault(item.workflow["id"], []).append(item)
    return groups


@pr.command()
@click.argument("workflow_id", required=False)
def check(workflow_id: str | None) -> None:
    """Check each pull request's state; record the merged ones, remove their worktrees, close their issues."""
    summary = Summary()
    with open_client() as client, Clients() as clients:
        found = awaiting(client, workflow_id)
        for item in found:
            try:
                pull = clients(item.hosted.kind).pull(item.hosted.repo, item.number)
            except CawError as err:
                summary.skipped.append((item, f"{err.code}: {err.message}"))
                click.echo(visible(f"  Error checking {item.url}: {err.code}: {err.message}"), err=True)
                continue
            if pull.state == "merged" and pull.merge_commit:
                complete(client, clients, item, pull.merge_commit)
                summary.merged.append(item)
                click.echo(visible(f"  Merged: {item.workspace['branch']} ({item.url})"))
            else:
                summary.skipped.append((item, pull.state))
                click.echo(visible(f"  Open: {item.workspace['branch']} ({pull.state}, {pull.mergeable})"))
        finish_workflows(client, found)
    click.echo(f"\nChecked: {len(found)}, Merged: {len(summary.merged)}, Open: {len(summary.skipped)}")


@pr.command()
@click.argument("ident", metavar="WORKSPACE_ID|WORKFLOW_ID")
@click.option("--pr-url", help="The pull request's URL, when the workspace has none recorded.")
@click.option("--merge-commit", help="The merge commit (read from the forge when omitted).")
def merge(ident: str, pr_url: str | None, merge_commit: str | None) -> None:
    """Mark a workspace's pull request (or every one of a workflow's) as merged, once it is."""
    with open_client() as client, Clients() as clients:
        if pr_url:
            if not ident.startswith("ws_"):
                raise invalid_input("--pr-url names one pull request", "Pass a workspace id with --pr-url.")
            pull_ref(pr_url)
            client.call("workspace_update", id=ident, pr_url=pr_url)
        found = of_id(client, ident)
        if not found:
            raise CawError("NO_PULL_REQUEST", f"{ident} has no active workspace with a pull request",
                           recoverable=True, suggestion="Pass --pr-url, or open one with workspace_open_pr.")
        for item in found:
            commit = merge_commit
            if commit is None:
                pull = clients(item.hosted.kind).pull(item.hosted.repo, item.number)
                if pull.state != "merged" or not pull.merge_commit:
                    raise CawError("PR_NOT_MERGED", f"{item.url} is not merged (state: {pull.state})",
                                   recoverable=True, suggestion="Merge it first, or pass --merge-commit.")
                commit = pull.merge_commit
            complete(client, clients, item, commit)
            click.echo(visible(f"Workspace {item.workspace['id']} marked as merged ({commit[:12]})."))
        finish_workflows(client, found)


@pr.command()
@click.argument("ident", metavar="WORKSPACE_ID|WORKFLOW_ID")
@click.option("--remote", default="origin", show_default=True, help="The remote the branches are pushed to.")
def rebase(ident: str, remote: str) -> None:
    """Rebase pull requests that conflict with their base onto it, in their worktrees, and push them."""
    failed = False
    with open_client() as client, Clients() as clients:
        for item in of_id(client, ident):
            pull = clients(item.hosted.kind).pull(item.hosted.repo, item.number)
            if pull.state != "open" or pull.mergeable != "CONFLICTING":
                click.echo(visible(f"  Skipping {item.workspace['branch']}: {pull.state}, {pull.mergeable}"))
                continue
            failed |= not rebased(item, pull, remote)
    if failed:
        raise SystemExit(1)


def rebased(item: Awaiting, pull: Pull, remote: str) -> bool:
    return rebase_refused(item, pull, remote) is None


def rebase_refused(item: Awaiting, pull: Pull, remote: str) -> CawError | None:
    """Rebase the pull request onto its base and push it; the refusal when that failed."""
    click.echo(visible(f"  Rebasing {item.workspace['branch']} onto {pull.base}..."))
    try:
        done = merging.rebase_worktree(item.workspace["path"], remote, item.workspace["branch"], pull.base)
    except CawError as err:
        click.echo(visible(f"  Rebase failed: {err.code}: {err.message}"), err=True)
        return err
    click.echo(visible(f"  Rebase complete: {done.before[:8]} -> {done.after[:8]}"))
    return None


@pr.command()
@click.argument("workflow_id", required=False)
@click.option("--cycle", "mode", type=click.Choice(["auto", "hitl", "off"]), default="auto", show_default=True,
              help="auto merges when checks pass; hitl asks before each merge; off does nothing.")
@click.option("--no-review", is_flag=True, help="Merge without first having an agent review the pull request.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--merge-method", type=click.Choice(MERGE_METHODS), default="squash", show_default=True,
              help="How to merge (on GitLab, squash or not; the project decides the rest).")
@click.option("--ci-timeout", type=click.FloatRange(min=0), default=600, show_default=True,
              help="Seconds to wait for a pull request's checks.")
@click.option("--ci-poll", type=click.FloatRange(min=0.01), default=30, show_default=True,
              help="Seconds between looks at the checks.")
@click.option("--remote", default="origin", show_default=True, help="The remote the branches are pushed to.")
@click.option("--ci-fix-iterations", type=click.IntRange(min=0, max=20), default=3, show_default=True,
              help="Times an agent may try to fix failing checks before the pull request is skipped (0: never).")
@click.option("--runtime", help="Runtime of the fixing agent (default: the one the workflow ran with).")
@click.option("--model", help="Model of the fixing agent, for the LLM runtimes.")
@click.option("--resolve-conflicts/--no-resolve-conflicts", default=True, show_default=True,
              help="Have an agent finish a rebase that conflicts, instead of skipping the pull request.")
def cycle(workflow_id: str | None, mode: str, no_review: bool, dry_run: bool, merge_method: str, ci_timeout: float,
          ci_poll: float, remote: str, ci_fix_iterations: int, runtime: str | None, model: str | None,
          resolve_conflicts: bool) -> None:
    """Merge open pull requests: rebase conflicting ones, wait for checks, have an agent fix failing ones, merge."""
    raise SystemExit(run_cycle(workflow_id, CycleOptions(mode, dry_run, merge_method, ci_timeout, ci_poll, remote,
                                                         ci_fix_iterations, runtime, model, resolve_conflicts,
                                                         not no_review)))


def run_cycle(workflow_id: str | None, options: CycleOptions) -> int:
    """The cycle over the workflow's (or every) open pull request; the exit status: 1 if any was skipped."""
    if options.mode == "off":
        click.echo("Cycle mode is off. Use --cycle auto|hitl to enable.")
        return 0
    if options.mode == "hitl" and not sys.stdin.isatty():
        click.echo("Warning: stdin is not a terminal; falling back to auto mode.", err=True)
        options = replace(options, mode="auto")
    summary = Summary()
    with connect(database(options.db)) as client, Clients() as clients:
        found = awaiting(client, workflow_id)
        if not found:
            click.echo("No workflows awaiting merge.")
            return 0
        for item in found:
            click.echo(visible(f"\n  PR: {item.workspace['branch']} ({item.url})"))
            outcome = take(client, clients, item, options)
            if outcome is None:
                summary.merged.append(item)
            elif outcome == "abort":
                summary.skipped.append((item, "aborted"))
                break
            else:
                summary.skipped.append((item, outcome))
        if not options.dry_run:
            finish_workflows(client, found)
    click.echo("\n--- Cycle Summary ---")
    click.echo(f"Merged: {len(summary.merged)}, Skipped: {len(summary.skipped)}")
    for item, why in summary.skipped:
        click.echo(visible(f"  Skipped: {item.workspace['branch']} - {why}"))
    return 1 if summary.skipped else 0


@dataclass(frozen=True)
class CycleOptions:
    mode: str = "auto"
    dry_run: bool = False
    merge_method: str = "squash"
    ci_timeout: float = 600
    ci_poll: float = 30
    remote: str = "origin"
    ci_fix_iterations: int = 3
    runtime: str | None = None
    model: str | None = None
    resolve_conflicts: bool = True
    review: bool = True
    db: str | None = None
    """The database, when not the global --db's (``caw work --db``)."""


def take(client: Client, clients: Clients, item: Awaiting, options: CycleOptions) -> str | None:
    """One pull request through the cycle: None once merged, else why it was skipped ("abort" to stop)."""
    forge = clients(item.hosted.kind)
    try:
        pull = forge.pull(item.hosted.repo, item.number)
        if pull.state == "merged" and pull.merge_commit:
            click.echo("    Already merged.")
            if not options.dry_run:
                complete(client, clients, item, pull.merge_commit)
            return None
        if pull.state != "open":
            return f"{pull.state}, not open"
        if pull.mergeable == "CONFLICTING":
            click.echo("    Conflicts detected: rebasing...")
            if options.dry_run:
                click.echo("    [dry-run] Would rebase")
            elif (refused := rebase_refused(item, pull, options.remote)) is not None:
                if refused.code != "REBASE_CONFLICT" or not options.resolve_conflicts:
                    return "rebase failed"
                click.echo("    Asking an agent to resolve the conflicts...")
                if unresolved := resolve_conflicts(client, item, pull, options):
                    return unresolved
                pull = forge.pull(item.hosted.repo, item.number)
            else:
                pull = forge.pull(item.hosted.repo, item.number)
        if options.review and not options.dry_run:
            click.echo("    Reviewing...")
            if refused_review := review(client, item, pull, options):
                return refused_review
            pull = forge.pull(item.hosted.repo, item.number)
        click.echo(f"    Waiting for checks (timeout: {options.ci_timeout:g}s)...")
        checks = merging.wait_for_checks(forge, item.hosted.repo, pull, options.ci_timeout, options.ci_poll)
        click.echo(visible(f"    Checks: {checks.summary}"))
        for attempt in range(1, options.ci_fix_iterations + 1):
            if checks.state != "failed" or checks.summary.startswith("timeout") or options.dry_run:
                break
            click.echo(f"    Asking an agent to fix them ({attempt}/{options.ci_fix_iterations})...")
            unfixed = fix_checks(client, item, checks.summary, options)
            if unfixed:
                return unfixed
            pull = forge.pull(item.hosted.repo, item.number)
            checks = merging.wait_for_checks(forge, item.hosted.repo, pull, options.ci_timeout, options.ci_poll)
            click.echo(visible(f"    Checks: {checks.summary}"))
        if checks.state != "passed":
            return f"checks {checks.summary}"
        if options.mode == "hitl":
            answer = click.prompt(f"    Merge {item.url}? [y/n/skip/abort]", default="n", show_default=False)
            if answer.strip().lower() == "abort":
                return "abort"
            if answer.strip().lower() not in ("y", "yes"):
                return "skipped by you"
        click.echo(f"    Merging ({options.merge_method})...")
        if options.dry_run:
            click.echo("    [dry-run] Would merge")
            return None
        done = forge.merge_pull(item.hosted.repo, item.number, options.merge_method)
    except CawError as err:
        click.echo(visible(f"    {err.code}: {err.message}"), err=True)
        return f"{err.code}: {err.message}"
    if not done.merge_commit:
        return "merged, but the forge named no merge commit"
    click.echo(f"    Merged ({done.merge_commit[:8]})")
    complete(client, clients, item, done.merge_commit)
    return None


FIX_TASK = "Fix the failing checks"
RESOLVE_TASK = "Resolve the rebase conflicts"
REVIEW_TASK = "Review the pull request"


def fix_checks(client: Client, item: Awaiting, failed: str, options: CycleOptions) -> str | None:
    """Run one agent in the pull request's worktree to make its failing checks pass, then push
    what it committed. None once pushed, else why the pull request is skipped."""
    description = (f"The checks of pull request {item.url} (branch {item.workspace['branch']}) {failed}. "
                   "Find why in this working directory, fix it and commit the fix on this branch; "
                   "caw-lab pushes your commits and runs the checks again. Do not push or rewrite history.")
    why = run_agent(client, item, FIX_TASK, description, options, None)
    return why and f"checks {failed}; {why}"


def resolve_conflicts(client: Client, item: Awaiting, pull: Pull, options: CycleOptions) -> str | None:
    """Run one agent in the pull request's worktree to rebase it onto its base (as fetched by the
    failed rebase), resolving the conflicts, then push the result with a lease on the old tip."""
    onto = f"refs/remotes/{options.remote}/{pull.base}"
    description = (f"Pull request {item.url} (branch {item.workspace['branch']}) conflicts with {pull.base}. "
                   f"Rebase this branch onto it (run: git rebase {onto} ), resolve every conflict keeping the "
                   "intent of both sides, and finish the rebase; caw-lab pushes the result. Do not push.")
    why = run_agent(client, item, RESOLVE_TASK, description, options, onto)
    return why and f"rebase conflicted; {why}"


def review(client: Client, item: Awaiting, pull: Pull, options: CycleOptions) -> str | None:
    """Run a reviewing agent in the pull request's worktree: it may commit fixes (pushed), or
    fail its task to keep the pull request from being merged (one attempt: a refusal is final)."""
    onto = f"{options.remote}/{pull.base}"
    description = (f"Review pull request {item.url} (branch {item.workspace['branch']}, base {pull.base}): read "
                   f"its change (git diff {onto}...HEAD) and the code around it. Commit fixes for what must change; "
                   "if it must not be merged, fail this task and say why. Do not push.")
    why = run_agent(client, item, REVIEW_TASK, description, options, None, changes_needed=False, attempts=1)
    return why and f"review: {why}"


def run_agent(client: Client, item: Awaiting, task: str, description: str, options: CycleOptions,
              onto: str | None, changes_needed: bool = True, attempts: int | None = None) -> str | None:
    """One task run by the executor in the pull request's worktree, with the runtime its workflow
    ran with; then what the agent committed is pushed (it must sit on ``onto`` when given).
    None once done, else what went wrong (an agent that was to change something and committed
    nothing included)."""
    branch, path = item.workspace["branch"], item.workspace["path"]
    before = merging.head_of(path)
    runtime = options.runtime or client.call("workflow_execution_status",
                                             workflow_id=item.workflow["id"])["runtime"]
    made = client.call("workflow_create", name=f"{task} of {item.url}"[:200], source_type="custom",
                       source_content=description, max_parallel_tasks=1)
    client.call("workflow_set_plan", id=made["id"], plan={"summary": f"{task} of {item.url}", "tasks": [
        {"name": task, "description": description}]})
    client.call("workflow_set_config", id=made["id"], config={
        "execution": {"cwd": path, "isolation": "shared", **({"runtime": runtime} if runtime else {})},
        **({"retry": {"max_attempts": attempts}} if attempts else {})})
    outcome = execute(database(options.db), made["id"], {"model": options.model}, watch=False)
    [ran] = client.call("workflow_get", id=made["id"], include_tasks=True)["tasks"]
    if ran["status"] != "completed":
        return f"the agent did not finish ({ran.get('error') or ran.get('last_error') or outcome.message})"
    if onto is not None and not merging.holds(path, onto):
        return f"the agent's branch does not sit on {onto}"
    try:
        pushed = merging.push_work(path, options.remote, branch, before)
    except CawError as err:
        return f"pushing the agent's work failed: {err.code}: {err.message}"
    if not pushed.moved:
        return "the agent committed nothing" if changes_needed else None
    click.echo(f"    Pushed the agent's work: {pushed.before[:8]} -> {pushed.after[:8]}")
    return None


def complete(client: Client, clients: Clients, item: Awaiting, commit: str) -> None:
    """Record the merge on the workspace (its worktree removed) and close the issue it resolves."""
    client.call("workspace_update", id=item.workspace["id"], status="merged", merge_commit=commit,
                cleanup_worktree=True)
    issue = pull_requests.linked_issue(item.workspace, item.workflow)
    if issue is None:
        return
    try:
        merging.close_issue(clients(issue["kind"]), issue, item.url, commit)
    except CawError as err:
        click.echo(visible(f"warning: could not close #{issue['number']}: {err.code}: {err.message}"), err=True)


def finish_workflows(client: Client, found: list[Awaiting]) -> None:
    """A workflow awaiting merge whose pull requests are all merged is completed."""
    for workflow_id in grouped(found):
        workflow = client.call("workflow_get", id=workflow_id)
        active = client.call("workspace_list", workflow_id=workflow_id, status=["active"])["workspaces"]
        if workflow["status"] == "awaiting_merge" and not any(w["pr_url"] for w in active):
            client.call("workflow_update_status", id=workflow_id, status="completed")
            click.echo(f"Workflow {workflow_id} completed.")
