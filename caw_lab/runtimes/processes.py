"""Agent processes: started in their own process group, logged to a file, stopped whole.

Each agent gets a new session, so stopping it signals its whole group (the agent and the
``caw --server`` it started). On Linux it also asks to be sent SIGTERM when the thread
that started it ends, so agents never outlive a crashed executor and go on working on
tasks that recovery has meanwhile handed to someone else.
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

PR_SET_PDEATHSIG = 1
LOG_TAIL = 800
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Runs in the child between fork and exec: only an async-signal-safe system call."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(argv: Sequence[str], cwd: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent if _prctl is not None else None,
        )


class ProcessHandle(Handle):
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, leftovers: Sequence[Path] = ()) -> None:
        self.process = process
        self.pid = process.pid
        self.log_path = str(log_path)
        self.leftovers = list(leftovers)

    def poll(self) -> Exit | None:
        code = self.process.poll()
        return None if code is None else self.ended(code)

    def stop(self, grace_s: float) -> Exit:
        self.signal_group(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            code = self.process.wait()
        return self.ended(code)

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
