"""The ``%caw`` line magic and ``%%caw`` cell magic (``%load_ext caw_lab``)."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from caw_lab.errors import CawError, invalid_input
from caw_lab.lab import completion, parser
from caw_lab.lab.render import ErrorView
from caw_lab.lab.session import LabSession, current


class CawRefused(Exception):
    """Raised after a refused ``%caw`` has shown its card, so Run All stops there rather than
    running later cells on a state the person did not intend. IPython prints what
    ``_render_traceback_`` returns instead of a traceback: one line, the card says the rest."""

    def __init__(self, err: CawError) -> None:
        super().__init__(f"{err.code}: {err.message}")
        self.error = err

    def _render_traceback_(self) -> list[str]:
        return [f"%caw refused ({self.error.code}): {self.error.message}. Later cells were not run."]


@magics_class
class CawMagics(Magics):
    def __init__(self, shell: InteractiveShell, session: LabSession) -> None:
        super().__init__(shell)
        self.session = session
        self.parser = parser.build()

    @line_cell_magic
    def caw(self, line: str, cell: str | None = None) -> Any:
        """Drive caw-lab workflows from a notebook: ``%caw SUBCOMMAND ...``.

        Every subcommand calls the same tools as the MCP server and the ``caw`` CLI, shows
        its result as HTML and returns it as a value (``wf = %caw new Fix login``). A
        refused request shows its code, message and suggestion, then stops the cell (and Run All)
        with a one-line error. ``%caw SUBCOMMAND --help``
        gives each one's options; Tab completes subcommands and ids.

        Subcommands:
          use [DB]                        use the database file DB (default: CAW_DB_PATH / .caw/workflows.db)
          new NAME [--source TEXT] [--template T --var KEY=VALUE ...] [--max-parallel N]
                                          create a workflow from a prompt, or from template T
          list [--status S] [--limit N]   workflows, newest first, with progress
          show ID                         a workflow (wf_...) with its tasks, or a task (tk_...) with checkpoints
          next WF                         the tasks of WF that can start now
          claim TASK [--agent A]          claim TASK (default agent: this notebook's, registered on first use)
          checkpoint TASK TYPE SUMMARY    record progress; TYPE is plan, progress, decision, error, recovery,
                                          complete or replan
          done TASK OUTCOME               complete TASK, stepping pending -> planning -> in_progress -> completed
          context TASK [--max-tokens N]   the context an agent would load for TASK, with its exact token count
          dag WF                          the live DAG widget of WF
          timeline WF                     WF's tasks as bars over time, in lanes by agent, live
          inbox [AGENT] [--status S]      messages to AGENT (default: this notebook's agent)
          agents [--workflow WF]          registered agents and how long since their heartbeat
          run WF [--runtime R] [--max-agents N|auto] [--model M]
                                          execute WF: agents start on its ready tasks, are watched and replaced
          status WF                       how WF's execution stands: agents, progress, dead letters
          suspend WF                      stop WF's agents gracefully (their tasks are paused)
          resume WF                       start agents again on a suspended WF
          metrics [WF]                    task counts, failure rate and task durations of WF (or of all)
          hints WF [--target-drain-ms MS] scaling hints of WF per capability: queue, agents, durations,
                                          time to drain and the recommended agent count
          workbench [WF]                  the Workbench: workflows, DAG, task detail, agents, inbox, forms

        Cell magic:
          %%caw plan WF                   set WF's plan from the YAML below:
                                            summary: Add login
                                            tasks:
                                              - name: schema
                                                description: Add the users table
                                                files: [db/schema.sql]
                                              - name: api
                                                depends_on: [schema]
                                                parallel_group: backend
        """
        try:
            return self.dispatch(line, cell)
        except parser.HelpShown:
            return None
        except CawError as err:
            display(ErrorView(err))
            raise CawRefused(err) from None

    def dispatch(self, line: str, cell: str | None) -> Any:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise invalid_input(f"%caw {line}: {exc}", "Close the quotes around the argument.") from None
        args = self.parser.parse_args(argv)
        if cell is not None and args.command != "plan":
            raise invalid_input(f"%%caw {args.command} takes no cell body", "Use %caw (one %) for that subcommand.")
        args.cell = cell
        return args.run(self.session, args)


def register(ip: InteractiveShell, session: LabSession | None = None) -> CawMagics:
    """Add the magics and their completer to ``ip``; loading twice replaces, never doubles."""
    magics = CawMagics(ip, session or current())
    ip.register_magics(magics)
    completer = ip.Completer
    completer.custom_matchers = [m for m in completer.custom_matchers
                                 if getattr(m, "matcher_identifier", None) != completion.MATCHER_ID]
    completer.custom_matchers.append(completion.matcher(magics.session, parser.subcommands(magics.parser)))
    return magics
