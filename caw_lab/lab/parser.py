"""The ``%caw`` command line: one argparse subcommand per command, mirroring the CLI.

argparse gives ``%caw SUBCOMMAND --help`` for free; its exits and errors are turned into
exceptions so a typo in a notebook cell never kills the kernel.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from caw_lab.engine.states import CHECKPOINT_TYPES, WORKFLOW_STATUSES
from caw_lab.errors import CawError
from caw_lab.lab import commands


class HelpShown(Exception):
    """``--help`` printed the usage; there is nothing else to do."""


WF_HELP = "A workflow id (wf_...); Tab completes it."
TASK_HELP = "A task id (tk_...); Tab completes it."
HELP_WIDTH = 100
"""Fixed, so ``--help`` and docs/magics.md read the same on every screen."""


class MagicParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", lambda prog: argparse.HelpFormatter(prog, width=HELP_WIDTH))
        super().__init__(*args, **kwargs)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.error(message)
        raise HelpShown

    def error(self, message: str) -> NoReturn:
        raise CawError("INVALID_INPUT", f"{self.prog}: {message}", recoverable=True,
                       suggestion=f"See {self.prog} --help.")


def build() -> MagicParser:
    parser = MagicParser(prog="%caw", description="Drive caw-lab workflows from a notebook.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND", parser_class=MagicParser)

    def add(name: str, run: Any, help: str) -> MagicParser:
        cmd: MagicParser = sub.add_parser(name, help=help, description=help)
        cmd.set_defaults(run=run)
        return cmd

    use = add("use", commands.use, "Use the database file DB (default: the one the environment names).")
    use.add_argument("db", nargs="?", metavar="DB", help="A SQLite file, created if missing.")

    new = add("new", commands.new, "Create a workflow named NAME, from a prompt or a template.")
    new.add_argument("name", nargs="+", metavar="NAME", help="The workflow's name; several words are fine.")
    new.add_argument("--source", help="The prompt or issue text (default: the name).")
    new.add_argument("--source-type", default="prompt",
                     choices=("prompt", "github_issue", "linear", "jira", "custom"), help="Where the source came from.")
    new.add_argument("--template", metavar="T", help="Apply template T instead: an id, NAME or NAME@RANGE.")
    new.add_argument("--var", action="append", default=[], metavar="KEY=VALUE",
                     help="A template variable (repeatable); typed as the template declares it.")
    new.add_argument("--max-parallel", type=int, default=1, metavar="N", help="Tasks that may run at once.")

    listing = add("list", commands.list_workflows, "List workflows, newest first, with their progress.")
    listing.add_argument("--status", action="append", choices=WORKFLOW_STATUSES, help="Only this status.")
    listing.add_argument("--limit", type=int, default=20, metavar="N", help="At most N workflows (20).")

    showing = add("show", commands.show, "Show a workflow (wf_...) with its tasks, or a task (tk_...).")
    showing.add_argument("id", metavar="ID", help="A workflow or task id.")
    showing.add_argument("--all", action="store_true", help="Every task of a big workflow (default: the first 50).")
    add("next", commands.next_tasks, "The tasks of WF that can start now.").add_argument(
        "workflow", metavar="WF", help=WF_HELP)

    claim = add("claim", commands.claim, "Claim TASK for an agent (default: this notebook's own agent).")
    claim.add_argument("task", metavar="TASK", help=TASK_HELP)
    claim.add_argument("--agent", metavar="A", help="The agent id to claim for.")

    cp = add("checkpoint", commands.checkpoint, "Record a checkpoint of TYPE on TASK.")
    cp.add_argument("task", metavar="TASK", help=TASK_HELP)
    cp.add_argument("type", choices=CHECKPOINT_TYPES, metavar="TYPE", help=f"One of: {', '.join(CHECKPOINT_TYPES)}.")
    cp.add_argument("summary", nargs="+", metavar="SUMMARY", help="What happened, in a sentence.")

    done = add("done", commands.done, "Complete TASK with OUTCOME, stepping it through planning and in_progress.")
    done.add_argument("task", metavar="TASK", help=TASK_HELP)
    done.add_argument("outcome", nargs="+", metavar="OUTCOME", help="What the task achieved, for the tasks after it.")

    ctx = add("context", commands.context, "Load TASK's context as an agent would, with its exact token count.")
    ctx.add_argument("task", metavar="TASK", help=TASK_HELP)
    ctx.add_argument("--max-tokens", type=int, metavar="N", help="Token budget (never exceeded).")

    add("dag", commands.dag, "The live DAG widget of WF.").add_argument("workflow", metavar="WF", help=WF_HELP)
    add("timeline", commands.timeline, "WF's tasks as bars over time, in lanes by agent, live.").add_argument(
        "workflow", metavar="WF", help=WF_HELP)

    inbox = add("inbox", commands.inbox, "Messages to AGENT (default: this notebook's agent).")
    inbox.add_argument("agent", nargs="?", metavar="AGENT", help="An agent id.")
    inbox.add_argument("--status", choices=("unread", "read", "archived"), help="Only messages in this state.")
    inbox.add_argument("--limit", type=int, default=20, metavar="N", help="At most N messages (20).")

    agents = add("agents", commands.agents, "Registered agents with their heartbeat age.")
    agents.add_argument("--workflow", metavar="WF", help="Only agents working on WF.")

    run = add("run", commands.run, "Execute WF: agents are started for its ready tasks, watched and replaced.")
    run.add_argument("workflow", metavar="WF", help=WF_HELP)
    run.add_argument("--runtime", metavar="R", help="Runtime for tasks without their own (python, subprocess, "
                     "claude_code, codex; default: the workflow's execution config).")
    run.add_argument("--max-agents", type=agent_count, metavar="N|auto",
                     help="Agents at once, or auto to follow the scaling hints (default: max parallel tasks).")
    run.add_argument("--model", metavar="M", help="Model for the LLM runtimes.")
    for name, fn, text in (("status", commands.status, "How WF's execution stands: agents, progress, dead letters."),
                           ("suspend", commands.suspend, "Stop WF's agents gracefully; its tasks are paused."),
                           ("resume", commands.resume, "Start agents again on a suspended WF.")):
        add(name, fn, text).add_argument("workflow", metavar="WF", help=WF_HELP)

    add("metrics", commands.metrics, "Task counts, failure rate and task durations of WF (default: all).").add_argument(
        "workflow", nargs="?", metavar="WF", help=WF_HELP)

    hints = add("hints", commands.hints, "Scaling hints of WF: queue, agents, durations, time to drain and the "
                "recommended agent count, per capability.")
    hints.add_argument("workflow", metavar="WF", help=WF_HELP)
    hints.add_argument("--target-drain-ms", type=int, metavar="MS",
                       help="How soon the ready queue should be empty (default: 10 minutes).")

    add("workbench", commands.workbench,
        "The Workbench: workflows, DAG and timeline, task detail, agents, inbox.").add_argument(
        "workflow", nargs="?", metavar="WF", help="The workflow to show first (default: the newest).")

    plan = add("plan", commands.plan, "Cell magic: %%caw plan WF, with the plan as YAML in the cell.")
    plan.add_argument("workflow", metavar="WF", help="A workflow in planning status.")
    return parser


def agent_count(text: str) -> int | str:
    """``--max-agents``: a number, or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor auto") from None


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Name -> subparser, for completion and for the test that keeps the docs complete."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
