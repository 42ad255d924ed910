"""docs/magics.md, written from the ``%caw`` parser so the reference cannot drift from it."""

from __future__ import annotations

from caw_lab.lab.parser import build, subcommands

INTRO = """\
In a notebook, `%load_ext caw_lab` adds the `%caw` line magic and the `%%caw` cell magic.
Each subcommand calls the same tools as the MCP server and the `caw` command, shows the
result as HTML and returns it as a value (`wf = %caw new Fix login` then `wf["id"]`). A
refused request shows its code, message and suggestion instead of a traceback, then stops
the cell (and Run All) with a one-line error. Tab
completes subcommands, options and the ids in the database in use; `%caw?` and
`%caw SUBCOMMAND --help` show this help in the notebook.

`caw_lab.Workbench(db=None, workflow_id=None)` shows workflows with Run, Suspend and
Resume, the DAG, the selected task (plan, checkpoints, context, its agent's log), agents,
the inbox (threads, compose, reply, mark read) and a form to create or edit workflows;
its `workflow_id` and `task_id` traits are the selection, settable from Python
([docs/workbench.md](workbench.md)).
"""


def magics_markdown() -> str:
    parser = build()
    lines = ["# The `%caw` magics", "", INTRO]
    for name, sub in subcommands(parser).items():
        magic = "%%caw" if name == "plan" else "%caw"
        lines += [f"## `{magic} {name}`", "", "```", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
