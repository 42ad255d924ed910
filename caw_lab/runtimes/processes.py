"""Agent processes: each started under a keeper, in its own session, logged, stopped whole.

On Linux every agent runs under ``keeper.py``: a tiny process that leads the agent's session
and process group, adopts every orphan the agent leaves (a child subreaper), and kills the
agent's whole tree when the executor's process ends, however it ends (SIGKILL included).
So agents never outlive a crashed executor and go on working on tasks that recovery has
meanwhile handed to someone else. Elsewhere an agent still gets its own session, so
stopping it signals its whole group, but nothing outlives a killed executor's watch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from caw_lab.runtimes import agent_logs
from caw_lab.runtimes.agent_logs import Attempt, LogWriter, Render
from caw_lab.runtimes.base import Exit, Handle

LOG_TAIL = 800
DRAIN_WAIT_S = 5.0
"""How long an ended agent's last output may take to reach its log (a descendant holding the pipe open
is killed with the group first)."""
KEEPER = Path(__file__).with_name("keeper.py")
KEPT = sys.platform.startswith("linux")
"""Whether agents run under a keeper: it needs Linux's prctl and /proc."""
SWEEP_WAIT_S = 10.0
"""How long a keeper told to kill its agent's tree (SIGUSR1) may take before its group is SIGKILLed."""
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if KEPT else None


def spawn(argv: Sequence[str], cwd: str, env: dict[str, str], log: LogWriter,
          render: Render) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start ``argv`` in a new session, under a keeper where there is one; stdin empty, stdout and
    stderr through a pipe into ``log`` (the thread returned copies them)."""
    command = [sys.executable, "-I", "-S", str(KEEPER), str(os.getpid()), *argv] if KEPT else list(argv)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    assert process.stdout is not None
    return process, agent_logs.pump(process.stdout, log, render)


def die_with_parent() -> None:
    """For a process forked without a keeper (the python runtime's): SIGKILL when its parent ends."""
    if _prctl is None:
        return
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


class ProcessHandle(Handle):
    """An agent started by :func:`spawn`; ``pid`` is its keeper's (the leader of its process group)."""

    def __init__(self, process: subprocess.Popen[bytes], log: Attempt, pump: threading.Thread,
                 leftovers: Sequence[Path] = ()) -> None:
        self.process = process
        self.pid = process.pid
        self.log = log
        self.log_path = str(log.path)
        self.pump = pump
        self.leftovers = list(leftovers)

    def poll(self) -> Exit | None:
        code = self.process.poll()
        return None if code is None else self.ended(code)

    def stop(self, grace_s: float) -> Exit:
        """SIGTERM to the whole group; after ``grace_s``, every descendant killed."""
        self.signal_group(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            code = self.kill()
        return self.ended(code)

    def kill(self) -> int:
        """The keeper kills the agent's tree, escaped members included; the group is the fallback."""
        if KEPT:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGUSR1)
            with contextlib.suppress(subprocess.TimeoutExpired):
                return self.process.wait(timeout=SWEEP_WAIT_S)
        self.signal_group(signal.SIGKILL)
        return self.process.wait()

    def ended(self, code: int) -> Exit:
        """Whatever the agent left running in its group goes with it."""
        self.signal_group(signal.SIGKILL)
        self.pump.join(DRAIN_WAIT_S)
        for path in self.leftovers:
            path.unlink(missing_ok=True)
        return Exit(code, None if code == 0 else f"{describe(code)}{self.tail()}")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def tail(self) -> str:
        try:
            text = agent_logs.read(self.log, -LOG_TAIL, LOG_TAIL).text.strip()
        except OSError:
            return ""
        return f"; output ends: {text}" if text else ""


def describe(code: int) -> str:
    if code < 0:
        try:
            return f"agent process killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"agent process killed by signal {-code}"
    return f"agent process exited with code {code}"
