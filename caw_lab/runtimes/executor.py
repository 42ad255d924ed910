"""The executor: runs a workflow by keeping up to ``max_agents`` agents busy on its ready tasks.

One loop in one thread. Each turn it reaps agents that ended (their task settled by
recovery: done, retried after backoff, or dead-lettered), stops attempts past the task
timeout, heartbeats its live agents and itself, sweeps agents that went silent, and
starts agents on tasks that may start now: first tasks a suspension paused (their new
agent resumes them), then workflow_next_tasks' eligible tasks in plan order
(dependencies done, parallel groups together), skipping tasks still inside their retry
backoff. Each agent is registered and the task claimed (task_claim's compare-and-set)
before its runtime starts it. With ``max_agents: "auto"`` the number of agents aimed for
follows the workflow's scaling hints each turn (``execution.scaled`` records each change);
running agents are never stopped to shrink, they are just not replaced.

The loop ends when every task is done (``completed``), when nothing can run any more
(``failed`` if tasks sit in the dead-letter queue, the workflow then marked failed, else
``stalled``), or on suspension: asked locally, by Ctrl-C, or by another process through
an ``execution.suspend_requested`` event. Suspending stops every agent process, pauses
running tasks and releases all claims before the loop returns.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caw_lab.alerts.dispatch import AlertPump
from caw_lab.engine import (
    agents,
    claims,
    deadletter,
    executions,
    leases,
    orchestration,
    recovery,
    retries,
    sandbox,
    scaling,
    workspaces,
)
from caw_lab.engine.events import head_seq
from caw_lab.engine.rows import fetch
from caw_lab.engine.states import require_status
from caw_lab.errors import CawError
from caw_lab.gitops import pull_requests
from caw_lab.gitops.github import GitHub
from caw_lab.ids import now_ms
from caw_lab.runtimes import agent_logs, local_config, registry
from caw_lab.runtimes.base import Connect, Exit, Handle, Launch, Runtime
from caw_lab.runtimes.settings import ExecutionSettings, resolve
from caw_lab.store import open_backend
from caw_lab.store.backend import Backend
from caw_lab.telemetry import runs

RUNNABLE_WORKFLOW = ("ready", "in_progress")


@dataclass
class Running:
    agent_id: str
    task: dict[str, Any]
    handle: Handle
    runtime: str
    started: float = field(default_factory=time.monotonic)
    spans: runs.Attempt | None = None


@dataclass(frozen=True)
class Progress:
    """Progress as the loop last saw it, for a progress bar or a widget."""

    total: int
    done: int
    running: int
    dead_letters: int


@dataclass(frozen=True)
class Outcome:
    status: str
    """``completed``, ``failed``, ``stalled``, ``suspended``, ``abandoned`` or ``superseded``."""
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


class Executor:
    def __init__(
        self,
        db: str,
        workflow_id: str,
        *,
        overrides: Mapping[str, Any] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        connect: Connect,
        on_progress: Callable[[Progress], None] | None = None,
        env_passthrough: Sequence[str] = (),
    ) -> None:
        self.target = db
        self.connect = connect
        """How python-runtime agents call the tools (``caw_lab.connect``); given, since runtimes
        sit below the tool registry."""
        self.workflow_id = workflow_id
        self.db: Backend = open_backend(db)
        self.workflow = fetch(self.db, "workflow", workflow_id)
        require_status("workflow", self.workflow, executions.STARTABLE, "start executing")
        self.settings: ExecutionSettings = resolve(self.workflow, overrides)
        retries.workflow_policy(self.workflow)
        self.overrides = dict(overrides or {})
        self.instances: dict[str, Runtime] = dict(runtimes or {})
        self.local_options = local_config.load()
        """What the local user configured runtimes to run (``local_config``), read once per run."""
        self.on_progress = on_progress
        self.env_passthrough = tuple(env_passthrough)
        """Secrets agents may inherit: the local user's choice, never a workflow's config (runtimes/environment.py)."""
        self.running: dict[str, Running] = {}
        self.stop_requested = threading.Event()
        self.started = threading.Event()
        self.executor_id: str | None = None
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"caw-{workflow_id}-"))
        """Agents' MCP configs, for as long as the run lasts; their logs are kept (runtimes/agent_logs.py)."""
        self.last_beat = self.last_sweep = 0.0
        self.last_progress: Progress | None = None
        self.aim: int | None = None
        """With ``max_agents: "auto"``, the agent count last aimed for."""

    # -- setup -------------------------------------------------------------------------

    def runtime(self, name: str) -> Runtime:
        if name not in self.instances:
            options = local_config.options_for(name, self.settings.runtimes.get(name), self.local_options)
            self.instances[name] = registry.create(name, options)
        return self.instances[name]

    def runtime_name(self, task: Mapping[str, Any]) -> str:
        return task.get("runtime") or self.settings.runtime

    def check(self) -> None:
        """Refuse before writing anything when the configured working directory lies outside the
        sandbox, or a runtime some unfinished task needs cannot run here."""
        if self.settings.cwd:
            sandbox.user_path(self.settings.cwd, "Working directory")
        needed = executions.runtimes_needed(self.db, self.workflow_id)
        for name in sorted({name or self.settings.runtime for name in needed} or {self.settings.runtime}):
            self.runtime(name).check()

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> Outcome:
        """Execute until done, stuck or suspended; returns how it ended. The run is one trace."""
        with runs.run(self.workflow_id) as span:
            outcome = self.execute()
            runs.ended(span, outcome.status, outcome.message)
            return outcome

    def execute(self) -> Outcome:
        pump = None
        try:
            self.check()
            since = head_seq(self.db)
            self.executor_id = executions.begin(
                self.db, self.workflow_id, settings=self.recorded_settings(),
                timeout_ms=self.settings.heartbeat_timeout_ms, pid=os.getpid(), host=socket.gethostname())
            pump = AlertPump.for_settings(self.target, self.settings.alerts, self.workflow_id, since)
            self.outcome = self.loop(since)
            return self.outcome
        except BaseException as exc:
            self.error = exc
            if self.executor_id and self.outcome is None:
                self.outcome = self.suspend("interrupted")
            raise
        finally:
            self.started.set()
            if pump:
                pump.close()
            self.db.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def loop(self, since: int) -> Outcome:
        while True:
            if self.stop_requested.is_set() or executions.requested(self.db, self.workflow_id, since):
                return self.suspend("requested")
            status = fetch(self.db, "workflow", self.workflow_id)["status"]
            if status not in RUNNABLE_WORKFLOW and status != "completed":
                return self.suspend("paused by hand") if status == "paused" else self.abandon(status)
            self.reap()
            self.enforce_timeouts()
            if not self.heartbeat():
                return self.abandon("superseded")
            self.sweep()
            self.fill()
            self.started.set()
            self.report()
            if (ending := self.ending()) is not None:
                return ending
            self.stop_requested.wait(self.settings.poll_interval_ms / 1000)

    def recorded_settings(self) -> dict[str, Any]:
        """The settings a later resume reuses: everything given, with what they resolved to."""
        return {**self.overrides, "runtime": self.settings.runtime, "max_agents": self.settings.max_agents,
                "heartbeat_timeout_ms": self.settings.heartbeat_timeout_ms}

    # -- agents ------------------------------------------------------------------------

    def candidates(self) -> tuple[list[dict[str, Any]], int]:
        """Tasks that may start now (paused ones first), and how many wait out a retry backoff.
        Only tasks fitting the free slots are offered: claims refuse the others."""
        waiting = recovery.waiting(self.db, self.workflow_id, now_ms())
        eligible = orchestration.next_tasks(self.db, self.workflow_id, include_failed=False)["tasks"]
        ready = executions.paused_unclaimed(self.db, self.workflow_id) + [t for t in eligible if t["recommended"]]
        return [t for t in ready if t["id"] not in waiting], len(waiting)

    def wanted_agents(self) -> int:
        """How many agents to keep: ``max_agents``, or with ``"auto"`` what the scaling hints recommend."""
        if self.settings.max_agents != "auto":
            return self.settings.max_agents or 1
        hints = scaling.hints(self.db, self.workflow_id, target_drain_ms=self.settings.target_drain_ms)["total"]
        aim = min(max(hints["recommended"], self.settings.min_agents), self.workflow["max_parallel_tasks"])
        if aim != self.aim:
            assert self.executor_id is not None
            executions.scaled(self.db, self.workflow_id, self.executor_id, self.aim, aim, hints)
            self.aim = aim
        return aim

    def fill(self) -> None:
        free = self.wanted_agents() - len(self.running)
        if free <= 0:
            return
        for task in self.candidates()[0]:
            if free == 0:
                break
            if self.launch(task["id"]):
                free -= 1

    def launch(self, task_id: str) -> bool:
        """Register an agent, claim the task for it and start it; False when the task was taken.
        With ``conflicts: serialize`` the claim leases the task's files, and a task whose files
        are leased by a running one waits."""
        began, task = time.time_ns(), fetch(self.db, "task", task_id)
        lease_files = self.settings.conflicts == "serialize" and leases.leasable(task)
        if lease_files and leases.in_use(self.db, task):
            return False
        name = self.runtime_name(task)
        try:
            directory, refused = self.cwd(task), None
        except CawError as exc:  # outside the sandbox: the agent is not started, the task loses an attempt
            directory, refused = None, exc
        agent = agents.register(self.db, name=f"{name}:{task['name']}"[:120], runtime=name,
                                workflow_id=self.workflow_id, workspace_path=directory,
                                metadata={"executor_id": self.executor_id, "task_id": task_id, "runtime": name})
        try:
            taken = claims.claim(self.db, task_id, agent["id"], lease_files=lease_files)["success"]
        except CawError:
            taken = False
        if not taken:
            agents.unregister(self.db, agent["id"])
            return False
        task = fetch(self.db, "task", task_id)
        spans = runs.Attempt(task, agent["id"], name, began)
        try:
            if directory is None:
                raise refused or CawError("PATH_OUTSIDE_ROOTS", "No working directory for the agent")
            log = agent_logs.new_attempt(agent_logs.logs_root(self.target), task_id, agent["id"])
            launch = Launch(task, self.workflow, agent["id"], self.target, directory, self.workdir,
                            self.settings.run_options, self.connect, self.env_passthrough, log)
            with spans.starting():
                handle = self.runtime(name).start(launch)
        except Exception as exc:  # a runtime that cannot start costs the task an attempt
            spans.end(f"the {name} runtime could not start it: {exc}")
            recovery.end_agent(self.db, agent["id"], f"the {name} runtime could not start it: {exc}")
            return True
        agents.update_agent(self.db, agent["id"], {"metadata": {"pid": handle.pid, "log": handle.log_path}})
        self.running[agent["id"]] = Running(agent["id"], task, handle, name, spans=spans)
        return True

    def cwd(self, task: Mapping[str, Any]) -> str:
        """The task's workspace when it has one, else the configured or current directory; a
        stored or configured directory is checked against the sandbox on every use, since a
        workflow's config and rows can come from a network client or an imported bundle."""
        if task.get("workspace_id"):
            return workspaces.checked_path(self.db, fetch(self.db, "workspace", task["workspace_id"]))
        if self.settings.cwd:
            return sandbox.user_path(self.settings.cwd, "Working directory")
        return os.getcwd()

    def reap(self) -> None:
        for run in list(self.running.values()):
            ended = run.handle.poll()
            if ended is not None:
                self.settle(run, ended)

    def settle(self, run: Running, ended: Exit, reason: str | None = None) -> None:
        del self.running[run.agent_id]
        if run.spans:
            run.spans.end(reason or ended.error)
        recovery.end_agent(self.db, run.agent_id, reason or ended.error or "agent exited without finishing its task")

    def enforce_timeouts(self) -> None:
        limit = self.settings.task_timeout_ms
        if limit is None:
            return
        for run in list(self.running.values()):
            if (time.monotonic() - run.started) * 1000 > limit:
                self.settle(run, run.handle.stop(self.settings.stop_grace_ms / 1000),
                            f"attempt timed out after {limit} ms")

    def heartbeat(self) -> bool:
        if time.monotonic() - self.last_beat < self.settings.heartbeat_interval_s:
            return True
        self.last_beat = time.monotonic()
        assert self.executor_id is not None
        return executions.heartbeat(self.db, self.workflow_id, self.executor_id, list(self.running))

    def sweep(self) -> None:
        """Agents that went silent (another executor's, or self-driven ones), and orphaned tasks."""
        if time.monotonic() - self.last_sweep < self.settings.heartbeat_interval_s:
            return
        self.last_sweep = time.monotonic()
        recovery.sweep(self.db, self.settings.heartbeat_timeout_ms, self.workflow_id)
        recovery.settle_orphans(self.db, self.workflow_id)

    # -- endings -----------------------------------------------------------------------

    def ending(self) -> Outcome | None:
        if self.running:
            return None
        counts = orchestration.workflow_counts(self.db, self.workflow_id)
        if counts["total"] and counts["done"] == counts["total"]:
            return self.finish(Outcome("completed", f"all {counts['total']} tasks done", self.open_pull_requests()))
        ready, waiting = self.candidates()
        if ready or waiting or counts["active"]:
            return None
        queued = deadletter.queued(self.db, self.workflow_id)
        if queued:
            reason = f"{queued} task(s) in the dead-letter queue; nothing else can run"
            executions.fail_workflow(self.db, self.workflow_id, reason)
            return self.finish(Outcome("failed", reason, {"dead_letters": queued}))
        return self.finish(Outcome("stalled", "no task can start and none is running"))

    def open_pull_requests(self) -> dict[str, Any]:
        """With ``open_pull_requests`` set, the finished work's pull requests, or why GitHub refused them."""
        if not self.settings.open_pull_requests:
            return {}
        with GitHub() as github:
            return pull_requests.open_all(self.db, self.workflow_id, github)

    def finish(self, outcome: Outcome) -> Outcome:
        assert self.executor_id is not None
        self.report()
        executions.finish(self.db, self.workflow_id, self.executor_id, outcome.status,
                          {"message": outcome.message, **outcome.detail})
        return outcome

    def stop_all(self) -> list[str]:
        """Stop every agent process (all asked at once, then each given the grace period)."""
        stopping = list(self.running.values())
        grace = self.settings.stop_grace_ms / 1000
        threads = [threading.Thread(target=run.handle.stop, args=(grace,)) for run in stopping]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for run in stopping:
            if run.spans:
                run.spans.end()
        self.running.clear()
        return [run.agent_id for run in stopping]

    def suspend(self, why: str) -> Outcome:
        assert self.executor_id is not None
        stopped = self.stop_all()
        payload = executions.suspend(self.db, self.workflow_id, self.executor_id, stopped)
        self.report()
        return Outcome("suspended", f"suspended ({why})", payload)

    def abandon(self, why: str) -> Outcome:
        """The workflow was abandoned (or another executor took over): stop agents, settle nothing."""
        stopped = self.stop_all()
        for agent_id in stopped:
            agents.unregister(self.db, agent_id)
        return self.finish(Outcome("superseded" if why == "superseded" else "abandoned", f"stopped: {why}"))

    # -- observers ---------------------------------------------------------------------

    def progress(self) -> Progress:
        counts = orchestration.workflow_counts(self.db, self.workflow_id)
        queued = deadletter.queued(self.db, self.workflow_id)
        return Progress(counts["total"], counts["done"], len(self.running), queued)

    def report(self) -> None:
        if self.on_progress is None:
            return
        snap = self.progress()
        if snap != self.last_progress:
            self.last_progress = snap
            self.on_progress(snap)

    def handles(self) -> list[dict[str, Any]]:
        return [{"agentId": r.agent_id, "taskId": r.task["id"], "status": "running", "runtime": r.runtime,
                 "pid": r.handle.pid} for r in list(self.running.values())]

    def request_stop(self) -> None:
        self.stop_requested.set()
