"""``caw run`` and ``caw demo``: execute a workflow in the foreground with a progress bar.

Ctrl-C suspends rather than abandons: agents are stopped, running tasks paused, and
``caw run`` again (or workflow_resume) picks up where it stopped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from caw_lab.cli import Settings, main
from caw_lab.cli.output import echo_table, visible
from caw_lab.runtimes import Executor, Outcome, Progress, PythonRuntime, Runtime
from caw_lab.runtimes import demo as sample
from caw_lab.runtimes.registry import names
from caw_lab.store.location import resolve_db
from caw_lab.tools.client import connect


def execute(db: str, workflow_id: str, overrides: Mapping[str, Any],
            runtimes: Mapping[str, Runtime] | None = None, env_passthrough: Sequence[str] = ()) -> Outcome:
    """Run the executor here, drawing its progress; Ctrl-C suspends and exits 130."""
    bar: Any = None

    def progress(snap: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=snap.total, label=f"{workflow_id}", show_pos=True,
                                    item_show_func=lambda s: s and f"{s.running} running, {s.dead_letters} dead")
            bar.__enter__()
        bar.update(snap.done - bar.pos, current_item=snap)

    executor = Executor(db, workflow_id, overrides=overrides, runtimes=runtimes, on_progress=progress, connect=connect,
                        env_passthrough=env_passthrough)
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


def database() -> str:
    settings = click.get_current_context().find_object(Settings) or Settings()
    return resolve_db(settings.db)


@main.command()
@click.argument("workflow_id")
@click.option("--max-agents", type=AgentCount(),
              help="Agents at once, 1 to 100, or auto to follow the scaling hints (default: max_parallel_tasks).")
@click.option("--runtime", help=f"Runtime for tasks without their own ({', '.join(names())}).")
@click.option("--pass-env", "pass_env", multiple=True, metavar="NAME",
              help="Let agents inherit this secret variable (or glob pattern, e.g. 'AWS_*'); repeatable. "
                   "Secrets are withheld otherwise; CAW_PASS_ENV lists more.")
def run(workflow_id: str, max_agents: int | str | None, runtime: str | None, pass_env: tuple[str, ...]) -> None:
    """Run a workflow to the end: agents on ready tasks, retries, dead letters; exit 1 unless it completes."""
    outcome = execute(database(), workflow_id, {"max_agents": max_agents, "runtime": runtime},
                      env_passthrough=pass_env)
    click.echo(visible(f"{outcome.status}: {outcome.message}"))
    if outcome.status != "completed":
        raise SystemExit(1)


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
