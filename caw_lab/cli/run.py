"""``caw run`` and ``caw demo``: execute a workflow in the foreground with a progress bar.

Ctrl-C suspends rather than abandons: agents are stopped, running tasks paused, and
``caw run`` again (or workflow_resume) picks up where it stopped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from caw_lab.cli import Settings, main
from caw_lab.cli.output import echo_table, visible
from caw_lab.runtimes import Executor, Outcome, Progress, PythonRuntime, Runtime
from caw_lab.runtimes import demo as sample
from caw_lab.runtimes.mcp_config import caw_command
from caw_lab.runtimes.registry import names
from caw_lab.store.location import resolve_db
from caw_lab.tools.client import connect


def execute(db: str, workflow_id: str, overrides: Mapping[str, Any],
            runtimes: Mapping[str, Runtime] | None = None, env_passthrough: Sequence[str] = (),
            watch: bool = True) -> Outcome:
    """Run the executor here, drawing its progress unless ``watch`` is off; Ctrl-C suspends and exits 130."""
    bar: Any = None

    def progress(snap: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=snap.total, label=f"{workflow_id}", show_pos=True,
                                    item_show_func=lambda s: s and f"{s.running} running, {s.dead_letters} dead")
            bar.__enter__()
        bar.update(snap.done - bar.pos, current_item=snap)

    executor = Executor(db, workflow_id, overrides=overrides, runtimes=runtimes,
                        on_progress=progress if watch else None, connect=connect, env_passthrough=env_passthrough)
    try:
        outcome = executor.run()
    except KeyboardInterrupt:
        click.echo(f"\nSuspended: agents stopped, running tasks paused. Resume with: caw run {workflow_id}", err=True)
        raise SystemExit(130) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    return outcome


class AgentCount(click.ParamType):
    """``--max-agents``: 1 to 100, or ``auto``."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if value == "auto":
            return value
        return click.IntRange(1, 100).convert(value, param, ctx)


def database(db: str | None = None) -> str:
    settings = click.get_current_context().find_object(Settings) or Settings()
    return resolve_db(db or settings.db)


@main.command()
@click.argument("workflow_id", required=False)
@click.option("--prompt", help="Create a workflow from this request, have a Claude Code planner plan it, then run it.")
@click.option("--max-agents", type=AgentCount(),
              help="Agents at once, 1 to 100, or auto to follow the scaling hints (default: max_parallel_tasks).")
@click.option("--runtime", help=f"Runtime for tasks without their own ({', '.join(names())}).")
@click.option("--model", help="Model for the LLM runtimes (and the planner).")
@click.option("--permission-mode", type=click.Choice(["acceptEdits", "bypassPermissions"]),
              help="Claude Code permission mode (default: bypassPermissions).")
@click.option("--max-turns", type=click.IntRange(min=1), help="Turn limit per task (default: 50).")
@click.option("--max-budget", "max_budget_usd", type=click.FloatRange(min=0), help="Budget per task in USD.")
@click.option("--ephemeral-worktree", is_flag=True, default=None,
              help="Each Claude Code agent works in a throwaway git worktree of its own (Claude Code's --worktree).")
@click.option("--watch/--no-watch", default=True, show_default=True, help="Show progress while it runs.")
@click.option("--detach", is_flag=True,
              help="Run in the background; follow it with `caw show` or workflow_execution_status.")
@click.option("--db", "run_db", metavar="PATH", help="Database, as the global --db (the reference's place for it).")
@click.option("--pass-env", "pass_env", multiple=True, metavar="NAME",
              help="Let agents inherit this secret variable (or glob pattern, e.g. 'AWS_*'); repeatable. "
                   "Secrets are withheld otherwise; CAW_PASS_ENV lists more.")
def run(workflow_id: str | None, prompt: str | None, max_agents: int | str | None, runtime: str | None,
        model: str | None, permission_mode: str | None, max_turns: int | None, max_budget_usd: float | None,
        ephemeral_worktree: bool | None, watch: bool, detach: bool, run_db: str | None,
        pass_env: tuple[str, ...]) -> None:
    """Run a workflow to the end: agents on ready tasks, retries, dead letters; exit 1 unless it completes
    (3 when it completes but some of the pull requests it opens are refused, 1 when all are)."""
    if bool(workflow_id) == bool(prompt):
        raise click.UsageError("Give a WORKFLOW_ID or --prompt (one of them).")
    db = database(run_db)
    if prompt:
        workflow_id = planned(db, prompt, model)
    assert workflow_id is not None
    overrides = {"max_agents": max_agents, "runtime": runtime, "model": model, "permission_mode": permission_mode,
                 "max_turns": max_turns, "max_budget_usd": max_budget_usd, "ephemeral_worktree": ephemeral_worktree}
    if detach:
        click.echo(background(db, workflow_id, overrides, pass_env))
        return
    outcome = execute(db, workflow_id, overrides, env_passthrough=pass_env, watch=watch)
    click.echo(visible(f"{outcome.status}: {outcome.message}"))
    if outcome.status != "completed":
        raise SystemExit(1)
    if refused := outcome.detail.get("pull_request_errors"):
        opened = len(outcome.detail.get("pull_requests", []))
        click.echo(f"{'partial' if opened else 'failed'}: {opened} pull request(s) opened, {len(refused)} refused")
        raise SystemExit(3 if opened else 1)


def planned(db: str, prompt: str, model: str | None) -> str:
    """A new workflow for ``prompt``, planned by a Claude Code agent."""
    from caw_lab.runtimes.planner import plan_workflow, planning_failed

    with connect(db) as client:
        workflow = client.call("workflow_create", name=prompt[:80], source_type="prompt", source_content=prompt)
    click.echo(f"Created workflow: {workflow['id']}; planning...", err=True)
    plan_workflow(db, workflow, prompt, str(Path.cwd()), model)
    with connect(db) as client:
        status = client.call("workflow_get", id=workflow["id"])["status"]
    if status == "planning":
        raise planning_failed(workflow["id"], "the planner ended without setting a plan")
    return str(workflow["id"])


FLAGS = {"max_budget_usd": "max-budget"}
"""Overrides whose ``caw run`` flag is not their name with dashes."""


def background(db: str, workflow_id: str, overrides: Mapping[str, Any], pass_env: Sequence[str] = ()) -> str:
    """Start ``caw run`` for the workflow as a process of its own session, which outlives this one
    (and the terminal), logging to a file; returns what to tell the user."""
    flags = [f"--{FLAGS.get(key, key.replace('_', '-'))}" + ("" if value is True else f"={value}")
             for key, value in overrides.items() if value is not None] + [f"--pass-env={name}" for name in pass_env]
    log = Path(tempfile.gettempdir()) / f"caw-run-{workflow_id}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*caw_command(), "run", workflow_id, "--db", db, "--no-watch", *flags],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return (f"Running {workflow_id} in the background (pid {process.pid}, log {log}). "
            f"Follow it with `caw show {workflow_id}` or workflow_execution_status.")


@main.command()
@click.option("--keep", is_flag=True, help="Keep the temporary demo database and print its path.")
def demo(keep: bool) -> None:
    """Run a sample seven-task workflow with the python runtime and print how it went."""
    settings = click.get_current_context().find_object(Settings) or Settings()
    folder = None if settings.db else Path(tempfile.mkdtemp(prefix="caw-demo-"))
    db = str(folder / "demo.db") if folder else str(settings.db)
    try:
        with connect(db) as client:
            workflow_id = sample.create(client)
        outcome = execute(db, workflow_id, {}, {"python": PythonRuntime(sample.work)})
        with connect(db) as client:
            tasks = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]
        rows = [(t["name"], t["status"], t["attempts"], t["last_error"] or "", t["outcome"] or "") for t in tasks]
        echo_table(rows, ["task", "status", "failed attempts", "last error", "outcome"])
        click.echo("\n" + visible(f"{outcome.status}: {outcome.message}"))
        if keep or settings.db:
            click.echo(f"database: {db}")
    finally:
        if folder is not None and not keep:
            shutil.rmtree(folder, ignore_errors=True)
