"""A real D1 on this machine: Cloudflare's workerd (via Miniflare) behind the D1 REST API.

Used by ``caw d1 local`` and by the test suite, so the D1 backend is exercised against
D1's own implementation rather than a imitation of it. Node 22 and Miniflare come from
npm (``package.json`` beside this file) into a per-user cache on first use.

The token reaches the server in its environment (readable by its user alone), not on its
command line (readable by everyone on the machine). The server stops when the process that
started it is gone, so a killed ``caw d1 local`` leaves no workerd holding its port.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import httpx

from caw_lab.errors import CawError

SOURCES = ("package.json", "package-lock.json", "worker.mjs", "server.mjs")
TOKEN_VARIABLE = "CAW_D1_LOCAL_TOKEN"
PROBE_TIMEOUT_S = 2.0
OUTPUT_LINES = 200


def runtime_dir() -> Path:
    """Where the npm dependencies live: keyed by the sources' hash, so an upgrade reinstalls."""
    here = resources.files(__name__)
    digest = hashlib.sha256(b"".join((here / name).read_bytes() for name in SOURCES)).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "caw-lab"
    return base / f"d1local-{digest}"


def ensure_installed() -> Path:
    """Install once per machine; processes starting at once (test workers) take turns on a lock."""
    target = runtime_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        if not (target / "node_modules" / ".bin" / "node").exists():
            install(target)
    return target


def install(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise CawError("NODE_MISSING", "npm is not installed", recoverable=True,
                       suggestion="Install Node.js and npm (apt-get install -y nodejs npm) to run a local D1.")
    target.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        (target / name).write_bytes((resources.files(__name__) / name).read_bytes())
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True)


class LocalD1:
    """Start with ``start()`` (or ``with``), stop with ``stop()``: SIGTERM, so workerd frees its port.

    Node and its workerd child run in a process group of their own, so ``kill()`` can crash
    the whole server at once, as a failing machine would, leaving no workerd behind.
    """

    def __init__(
        self, persist: Path, databases: Iterable[str] = ("local",), port: int = 0, token: str | None = None
    ) -> None:
        self.persist = Path(persist)
        self.databases = list(databases)
        self.port = port
        self.token = token or secrets.token_hex(16)
        self.process: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)

    def start(self) -> LocalD1:
        home = ensure_installed()
        args = [str(self.port), str(self.persist), ",".join(self.databases)]
        self.process = subprocess.Popen(
            [str(home / "node_modules" / ".bin" / "node"), str(home / "server.mjs"), *args],
            stdout=subprocess.PIPE, text=True, cwd=home, start_new_session=True,
            env={**os.environ, TOKEN_VARIABLE: self.token},
        )
        self.port = self._await_ready()
        threading.Thread(target=self._drain, name="caw-d1-local-output", daemon=True).start()
        return self

    def _drain(self) -> None:
        """Keep reading what the server prints after READY (workerd's warnings and errors), the last
        ``OUTPUT_LINES`` lines kept for a failure report: a pipe nobody reads fills, and a server
        blocked writing to it answers no request."""
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def _await_ready(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise CawError("D1_LOCAL_FAILED", f"Local D1 did not start: {line.strip() or 'no output'}",
                           recoverable=False, suggestion="Run `caw d1 local` in a terminal to see its errors.")
        return int(line.split()[1])

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    def env(self) -> dict[str, str]:
        """What a process needs to reach this D1: pass to a subprocess or ``os.environ``."""
        return {"CAW_D1_TOKEN": self.token, "CAW_D1_API": self.api}

    def url(self, database: str | None = None) -> str:
        return f"d1://local/{database or self.databases[0]}"

    def running(self) -> bool:
        """Node, which holds the server, has not exited."""
        return self.process is not None and self.process.poll() is None

    def answers(self) -> bool:
        """An HTTP request gets a reply within ``PROBE_TIMEOUT_S``: workerd serves the port, and
        a stopped one still completes TCP handshakes, so only a reply shows it is serving."""
        try:
            httpx.get(f"http://127.0.0.1:{self.port}/", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL node and workerd together: a crash, with no chance to finish a request."""
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def __enter__(self) -> LocalD1:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
