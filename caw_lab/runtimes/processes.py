"""Agent processes: each started under a keeper, in its own session, logged to a file, stopped whole.

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
from collections.abc import Sequence
from pathlib import Path

from caw_lab.runtimes.base import Exit, Handle

LOG_TAIL = 800
KEEPER = Path(__file__).with_name("keeper.py")
KEPT = sys.platform.startswith("linux")
"""Whether agents run under a keeper: it needs Linux's prctl and /proc."""
SWEEP_WAIT_S = 10.0
"""How long a keeper told to kill its agent's tree (SIGUSR1) may take before its group is SIGKILLed."""
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if KEPT else None


def spawn(argv: Sequence[str], cwd: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, under a keeper where there is one; stdin empty, output to the log."""
    command = [sys.executable, "-I", "-S", str(KEEPER), str(os.getpid()), *argv] if KEPT else list(argv)
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


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

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, leftovers: Sequence[Path] = ()) -> None:
        self.process = process
        self.pid = process.pid
        self.log_path = str(log_path)
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
        for path in self.leftovers:
            path.unlink(missing_ok=True)
        return Exit(code, None if code == 0 else f"{describe(code)}{self.tail()}")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def tail(self) -> str:
        try:
            text = Path(self.log_path).read_bytes()[-LOG_TAIL:].decode("utf-8", "replace").strip()
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
