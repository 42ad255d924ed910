"""Which caw_lab files one tool call runs: ``python -m bench.call_path``.

What a reader follows from a tool to its answer is the set of files whose code runs while
the call is served. Two calls are traced, both ``task_load_context`` on the last task of the
small workflow ``bench.context.build_path`` makes (a dependency, a sibling, an earlier task
and a memory to rank, a trail with older checkpoints: every part a payload holds), with
every cache of the context engine forgotten first, so the whole path runs:

- **in process**: through the tool registry, ``caw_lab.connect(path).call``;
- **over stdio**: the real server (``caw --server``, the default stdio loop) in a subprocess,
  driven by the official ``mcp`` SDK client. The server runs under a profiler
  (``sys.setprofile`` and ``threading.setprofile``, installed before anything is imported)
  that records only between a ``start`` and a ``stop`` sent over a Unix socket, so start-up,
  the client's handshake and a first, untimed call (which imports the context engine) are
  left out.

A file counts when a Python frame of its code is entered (a function, a coroutine resumed,
a module body). ``--functions`` also names the functions run in each file; ``--json`` prints
both lists as JSON instead of text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import caw_lab

ROOT = Path(caw_lab.__file__).resolve().parent
REPO = ROOT.parent
TOOL = "task_load_context"
Traced = dict[str, list[str]]
"""The files one call runs (relative to caw_lab/), each with the functions run in it."""


class Recorder:
    """The caw_lab files whose frames are entered while recording, in every thread, with the
    functions (code objects) entered in each."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.on = False
        self._root = str(ROOT)

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on and event == "call":
            code = frame.f_code
            if code.co_filename.startswith(self._root):
                self.seen.add((code.co_filename, code.co_qualname))

    def install(self) -> None:
        sys.setprofile(self.profile)
        threading.setprofile(self.profile)

    def start(self) -> None:
        self.seen.clear()
        self.on = True

    def stop(self) -> Traced:
        self.on = False
        files: dict[str, list[str]] = {}
        for name, function in sorted(self.seen):
            files.setdefault(str(Path(name).relative_to(ROOT)), []).append(function)
        return files


def forget_caches() -> None:
    """Every cache of the context engine and ranking library emptied: the next load runs in full."""
    from caw_lab.context import caches

    caches.forget_all()


def build(db: Path) -> str:
    """The small workflow with every part of a payload; returns the id of the task to load."""
    from bench.context import build_path

    with caw_lab.connect(db) as client:
        return build_path(client)


def in_process(db: Path, task_id: str) -> Traced:
    """The files one cold ``task_load_context`` runs through the tool registry, in this process."""
    recorder = Recorder()
    recorder.install()
    try:
        with caw_lab.connect(db) as client:
            client.call(TOOL, task_id=task_id)  # imports the context engine: not part of the path
            forget_caches()
            recorder.start()
            client.call(TOOL, task_id=task_id)
            return recorder.stop()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def serve_traced(control: str, server_args: list[str]) -> None:
    """Run ``caw`` with ``server_args`` under a ``Recorder`` steered over the Unix socket ``control``:
    each line received (``forget``, ``start``, ``stop``) is done and answered with one JSON line."""
    recorder = Recorder()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(control)
    listener.listen(1)

    def steer() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rw") as lines:
            for line in lines:
                command = line.strip()
                answer: Any = None
                if command == "forget":
                    forget_caches()
                elif command == "start":
                    recorder.start()
                elif command == "stop":
                    answer = recorder.stop()
                lines.write(json.dumps(answer) + "\n")
                lines.flush()

    threading.Thread(target=steer, name="call-path-control", daemon=True).start()
    recorder.install()
    from caw_lab.cli import main

    main(server_args, prog_name="caw")


def over_stdio(db: Path, task_id: str, control: Path) -> Traced:
    """The files the real server runs to answer one cold ``task_load_context`` over stdio."""
    import anyio
    from mcp import Client, StdioServerParameters

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bench.call_path", "--serve-traced", str(control), "--", "--db", str(db), "--server"],
        env=env,
        cwd=str(REPO),
    )

    async def run() -> Traced:
        async with Client(params, mode="legacy") as client:
            await client.call_tool(TOOL, {"task_id": task_id})  # imports the context engine
            with steering(control) as send:
                send("forget")
                send("start")
                result = await client.call_tool(TOOL, {"task_id": task_id})
                files = send("stop")
            if result.is_error:
                raise RuntimeError(f"{TOOL} failed: {result.content[0].text}")
            return files

    return anyio.run(run)


@contextlib.contextmanager
def steering(control: Path) -> Iterator[Callable[[str], Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, conn.makefile("rw") as lines:
        conn.connect(str(control))

        def send(command: str) -> Any:
            lines.write(command + "\n")
            lines.flush()
            return json.loads(lines.readline())

        yield send


def by_package(files: Traced) -> str:
    """``context 8, ranking 4, ...``: how many of the files each package holds."""
    counts: dict[str, int] = {}
    for f in files:
        package = f.split("/", 1)[0] if "/" in f else "(top level)"
        counts[package] = counts.get(package, 0) + 1
    return ", ".join(f"{p} {n}" for p, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.call_path", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print both lists as JSON")
    parser.add_argument("--functions", action="store_true", help="name the functions run in each file")
    parser.add_argument("--serve-traced", metavar="SOCKET", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.serve_traced:
        serve_traced(args.serve_traced, [a for a in rest if a != "--"])
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    with tempfile.TemporaryDirectory(prefix="caw-bench-path-") as tmp:
        db = Path(tmp) / "path.db"
        task_id = build(db)
        paths = {"in process": in_process(db, task_id), "over stdio": over_stdio(db, task_id, Path(tmp) / "control")}
    if args.json:
        print(json.dumps(paths, indent=1))
        return
    inside = set(paths["in process"])
    for name, files in paths.items():
        print(f"## {TOOL} {name}: {len(files)} files ({by_package(files)})")
        for f, functions in files.items():
            print(f"  {f}" + ("  (+ stdio)" if name == "over stdio" and f not in inside else ""))
            if args.functions:
                print(f"      {', '.join(functions)}")
        print()


if __name__ == "__main__":
    main()
