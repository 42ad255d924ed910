"""The ``python`` runtime: an agent that is a Python callable ``work(task, ctx)``.

For notebooks, demos and tests. ``ctx`` (task_context.TaskContext) offers load_context,
begin, checkpoint, heartbeat, complete and fail; if ``work`` returns without finishing
the task, its return value becomes the outcome, and if it raises, the exception becomes
the task's error, so the retry policy applies either way.

In a thread (the default) ``work`` may be anything, a notebook closure included, and stops
cooperatively: ``ctx`` raises ``Stopped`` at its next call. In a process
(``mode="process"``) ``work`` must be importable (a module-level function, or a
``"module:function"`` string) and the agent can be stopped, or killed, like any process.
Processes fork from a server that has caw-lab imported already, so each starts in
milliseconds instead of importing everything again.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any, Literal

from caw_lab.errors import CawError, invalid_input
from caw_lab.runtimes.base import Connect, Exit, Handle, Launch, Runtime
from caw_lab.runtimes.processes import describe, die_with_parent
from caw_lab.runtimes.task_context import Stopped, TaskContext

Work = Callable[[dict[str, Any], TaskContext], Any]


class PythonRuntime(Runtime):
    name = "python"

    def __init__(self, work: Work | str, mode: Literal["thread", "process"] = "thread") -> None:
        if mode not in ("thread", "process"):
            raise invalid_input(f"Unknown python runtime mode {mode!r}", "Use mode 'thread' or 'process'.")
        self.work = resolve(work) if isinstance(work, str) else work
        self.mode = mode

    def start(self, launch: Launch) -> Handle:
        if launch.connect is None:
            raise CawError("INVALID_CONFIG", "The python runtime was launched without a way to call the tools",
                           suggestion="Build the Executor with connect=caw_lab.connect.")
        agent = ProcessAgent if self.mode == "process" else ThreadAgent
        return agent(self.work, launch.task, launch.agent_id, launch.db, launch.connect)


def resolve(ref: str) -> Work:
    """``"package.module:function"`` to the function."""
    module, _, name = ref.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise invalid_input(f"Cannot import the python runtime's callable {ref!r}: {exc}",
                            "Name it as 'package.module:function'.") from None
    if not callable(found):
        raise invalid_input(f"{ref!r} is not callable", "Name a function taking (task, ctx).")
    return found


def run(work: Work, task: dict[str, Any], agent_id: str, db: str, connect: Connect,
        stop: threading.Event | None) -> None:
    """One agent's whole life: its own client, ``work``, then the task settled either way."""
    with connect(db) as client:
        ctx = TaskContext(client, task, agent_id, stop)
        try:
            result = work(task, ctx)
            ctx.settle(result)
        except Stopped:
            return
        except Exception as exc:
            try:
                ctx.settle_error(exc)
            except Stopped:
                return
            raise


class ThreadAgent(Handle):
    def __init__(self, work: Work, task: dict[str, Any], agent_id: str, db: str, connect: Connect) -> None:
        self.stop_requested = threading.Event()
        self.error: str | None = None
        # in the starter's context: the agent's tool calls are children of its span (telemetry.runs)
        self.thread = threading.Thread(target=contextvars.copy_context().run,
                                       args=(self.main, work, task, agent_id, db, connect), daemon=True,
                                       name=f"caw-agent-{agent_id}")
        self.thread.start()

    def main(self, work: Work, task: dict[str, Any], agent_id: str, db: str, connect: Connect) -> None:
        try:
            run(work, task, agent_id, db, connect, self.stop_requested)
        except BaseException as exc:  # an agent's failure is reported, never raised in the executor
            self.error = f"{type(exc).__name__}: {exc}"

    def poll(self) -> Exit | None:
        if self.thread.is_alive():
            return None
        return Exit(0 if self.error is None else 1, self.error)

    def stop(self, grace_s: float) -> Exit:
        self.stop_requested.set()
        self.thread.join(grace_s)
        return self.poll() or Exit(1, f"agent thread did not stop within {grace_s} s; it stops at its next call")


def process_main(work: Work, task: dict[str, Any], agent_id: str, db: str, connect: Connect) -> None:
    """A process agent dies with the process that forked it: the fork server, which ends with
    the executor's process."""
    die_with_parent()
    run(work, task, agent_id, db, connect, None)


@functools.cache
def forkserver(connect_module: str) -> BaseContext:
    """Processes forked from a server with this runtime and the agents' client imported
    (spawn where there is no fork)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, connect_module])  # type: ignore[attr-defined]
    return context


class ProcessAgent(Handle):
    def __init__(self, work: Work, task: dict[str, Any], agent_id: str, db: str, connect: Connect) -> None:
        context: Any = forkserver(connect.__module__)
        self.process = context.Process(target=process_main, args=(work, task, agent_id, db, connect), daemon=True,
                                       name=f"caw-agent-{agent_id}")
        self.process.start()
        self.pid = self.process.pid

    def poll(self) -> Exit | None:
        code = self.process.exitcode
        if code is None:
            return None
        return Exit(code, None if code == 0 else describe(code))

    def stop(self, grace_s: float) -> Exit:
        self.process.terminate()
        self.process.join(grace_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        return self.poll() or Exit(-9, describe(-9))
