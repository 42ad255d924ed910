"""The keeper: a small process between the executor and one agent, so that the agent and
everything it started die with the executor, however the executor dies.

The executor runs ``python -I -S keeper.py EXECUTOR_PID COMMAND...`` (Linux only) as the
leader of a new session. The keeper uses the standard library alone, so it starts in
milliseconds and needs nothing importable. It

- becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): every orphaned
  descendant of the agent, even a daemon that double-forks or leaves the process group
  with setsid, is handed to the keeper instead of to PID 1, so none escapes its view;
- asks for SIGHUP when the executor's thread that started it ends
  (``prctl(PR_SET_PDEATHSIG)``), whether it returned, raised, or was SIGKILLed or
  OOM-killed: a signal from the kernel needs no cooperation from a dead process;
- runs the agent as its child, in its process group, told to die (SIGKILL) if the keeper
  itself dies.

Then it waits. When the agent ends, whatever it left running is SIGKILLed. When the
executor is gone, the group gets SIGTERM, the agent ``GRACE_S`` seconds, and then every
descendant SIGKILL. The executor stops an agent by signalling the whole group with
SIGTERM (the keeper waits for the agent) and, when its grace runs out, sends the keeper
SIGUSR1 (every descendant SIGKILLed at once). The keeper exits as the agent did, with its
code or by its signal, so the executor reads the agent's end from the keeper's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time
from typing import NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 2.0
"""How long an agent whose executor died has to end on SIGTERM before it is killed."""
SWEEP_S = 5.0
"""How long the keeper goes on killing descendants that keep appearing (a fork bomb)."""
WATCHED = {signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1}
"""Blocked in the keeper and taken synchronously with sigtimedwait: no handler races."""
IGNORED_BY_PYTHON = (signal.SIGPIPE, signal.SIGXFSZ)
"""Python ignores these; an ignored signal survives exec, so the agent gets them back."""

libc = ctypes.CDLL(None, use_errno=True)


def main(argv: list[str]) -> NoReturn:
    if len(argv) < 3:
        sys.exit("usage: keeper.py EXECUTOR_PID COMMAND [ARG...]")
    executor, command = int(argv[1]), argv[2:]
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP)
    orphaned = os.getppid() != executor  # it died before the request above could take effect
    agent = start(command)
    status = watch(agent, executor, orphaned)
    sweep()
    mirror(status)


def start(command: list[str]) -> int:
    keeper = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:  # the agent, between fork and exec
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
        for signum in IGNORED_BY_PYTHON:
            signal.signal(signum, signal.SIG_DFL)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == keeper:
            os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"caw-lab: cannot start the agent {command[0]!r}: {exc}\n".encode())
    os._exit(127)


def watch(agent: int, executor: int, orphaned: bool) -> int:
    """Reap children (the agent, and orphans handed over) until the agent ends; its wait status."""
    kill_at = None
    if orphaned:
        kill_at = executor_gone()
    while True:
        for pid, status in reaped():
            if pid == agent:
                return status
        if kill_at is not None and time.monotonic() >= kill_at:
            kill_descendants()
            kill_at = time.monotonic() + 0.1  # until the agent is reaped
        wait_s = 0.5 if kill_at is None else max(0.0, kill_at - time.monotonic())
        info = signal.sigtimedwait(WATCHED, wait_s)
        if info is None:
            continue
        if info.si_signo == signal.SIGHUP and os.getppid() != executor and kill_at is None:
            kill_at = executor_gone()
        elif info.si_signo == signal.SIGUSR1:
            kill_at = time.monotonic()
        # SIGTERM: the executor is stopping the group; the agent got it too. SIGCHLD: reap above.


def executor_gone() -> float:
    """Ask the agent's group to end; when to kill what is left."""
    os.killpg(os.getpgrp(), signal.SIGTERM)  # the keeper's own copy stays blocked and is ignored
    return time.monotonic() + GRACE_S


def reaped() -> list[tuple[int, int]]:
    found = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        found.append((pid, status))


def sweep() -> None:
    """SIGKILL every descendant until none is left: each one killed hands its children to the keeper."""
    deadline = time.monotonic() + SWEEP_S
    while kill_descendants() and time.monotonic() < deadline:
        time.sleep(0.01)
        reaped()
    reaped()


def kill_descendants() -> int:
    """SIGKILL every live descendant of the keeper; how many there were."""
    found = descendants(os.getpid())
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(found)


def descendants(root: int) -> list[int]:
    """Live (not zombie) processes below ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def mirror(status: int) -> NoReturn:
    """End as the agent ended: the same exit code, or death by the same signal."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # never a core file of the keeper in a workspace
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # a signal whose default is not to end a process
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv)
