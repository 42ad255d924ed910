"""Agents' output, kept per task and attempt, bounded, readable while written and after.

Layout, under the logs folder of a database (``logs_root``): ``<task_id>/<n>-<agent_id>/``
holds attempt ``n`` (1, 2, ...), its text in segments named by the byte offset they start
at (``000000000000.log``, ``000001048576.log``, ...). A writer appends to the newest segment
and starts another after ``SEGMENT_BYTES``; past ``KEEP_SEGMENTS`` the oldest is deleted.
So an attempt keeps at most ``SEGMENT_BYTES * KEEP_SEGMENTS`` of its latest output, and a
position in it is one absolute byte offset that stays valid across rotations: a reader
that follows a log (the WebSocket's ``agent:log``) or pages through it (``task_logs``)
asks "from offset X" and is told what it got, where to go on, and how much rotation
dropped. Nothing is renamed, so a reader never sees a file move under it.

Segments are plain UTF-8 text, one rendered line per line (``renderers`` turns Claude
Code's and Codex's JSON event streams into readable lines), written by the executor's
process and read by any process on the machine (a server, ``caw``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from caw_lab.store.location import caw_home

SEGMENT_BYTES = 1024 * 1024
KEEP_SEGMENTS = 4
"""At most 4 MiB of an attempt's latest output is kept."""
LOGS_FOLDER = "logs"
ATTEMPT = re.compile(r"^(\d+)-(ag_[0-9a-z]+)$")
SEGMENT = re.compile(r"^(\d{12})\.log$")
TASK_ID = re.compile(r"^tk_[0-9a-z]{1,64}$")


def logs_root(db_target: str) -> Path:
    """Beside a SQLite file (``.caw/logs`` for ``.caw/workflows.db``); for D1 or an in-memory
    database, in caw's home, one folder per database."""
    if "://" not in db_target and db_target not in ("", ":memory:"):
        return Path(db_target).resolve().parent / LOGS_FOLDER
    name = re.sub(r"[^0-9A-Za-z._-]+", "_", db_target).strip("_") or "memory"
    return caw_home() / LOGS_FOLDER / name[:100]


def task_dir(root: Path, task_id: str) -> Path:
    """The task's folder; its id is checked so no caller can walk out of ``root``."""
    if not TASK_ID.match(task_id):
        raise ValueError(f"not a task id: {task_id!r}")
    return root / task_id


@dataclass(frozen=True)
class Attempt:
    number: int
    agent_id: str
    path: Path

    def segments(self) -> list[tuple[int, Path]]:
        """``(start offset, path)`` of each kept segment, oldest first."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        found = [(int(m.group(1)), self.path / n) for n in names if (m := SEGMENT.match(n))]
        return sorted(found)

    def size(self) -> int:
        """Bytes written so far, rotated ones included: the offset the next byte will have."""
        segments = self.segments()
        if not segments:
            return 0
        start, path = segments[-1]
        try:
            return start + path.stat().st_size
        except FileNotFoundError:
            return start


def attempts(root: Path, task_id: str) -> list[Attempt]:
    folder = task_dir(root, task_id)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = [Attempt(int(m.group(1)), m.group(2), folder / n) for n in names if (m := ATTEMPT.match(n))]
    return sorted(found, key=lambda a: a.number)


def new_attempt(root: Path, task_id: str, agent_id: str) -> Attempt:
    """The folder of the task's next attempt, created (0700: agents' output may hold secrets)."""
    folder = task_dir(root, task_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    while True:
        number = max((a.number for a in attempts(root, task_id)), default=0) + 1
        path = folder / f"{number}-{agent_id}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # another executor took this number first
            continue
        return Attempt(number, agent_id, path)


@dataclass(frozen=True)
class Chunk:
    text: str
    offset: int
    """Where ``text`` starts: the asked offset, or later when rotation dropped what was asked."""
    next_offset: int
    size: int
    dropped: int
    """Bytes asked for that rotation deleted."""


def read(attempt: Attempt, offset: int, max_bytes: int) -> Chunk:
    """Up to ``max_bytes`` from ``offset`` (negative: that many bytes before the end), cut at a
    line end when the cut would split a line and a whole line fits."""
    segments, size = attempt.segments(), attempt.size()
    if offset < 0:
        offset = max(0, size + offset)
    offset = min(offset, size)
    first = segments[0][0] if segments else 0
    start = max(offset, first)
    data = bytearray()
    for seg_start, path in segments:
        if len(data) >= max_bytes:
            break
        try:
            length = path.stat().st_size
        except FileNotFoundError:
            continue
        if seg_start + length <= start:
            continue
        with open(path, "rb") as file:
            file.seek(max(0, start + len(data) - seg_start))
            data += file.read(max_bytes - len(data))
    if len(data) == max_bytes and (cut := data.rfind(b"\n")) >= 0:
        del data[cut + 1:]
    text = bytes(data).decode("utf-8", "replace")
    return Chunk(text, start, start + len(data), size, start - offset)


class LogWriter:
    """Appends lines to an attempt's segments; thread-safe, flushed per write so readers see it at once."""

    def __init__(self, attempt: Attempt) -> None:
        self.attempt = attempt
        self.lock = threading.Lock()
        self.offset = attempt.size()
        self.file: IO[bytes] | None = None
        self.segment_start = self.offset

    def write_lines(self, lines: Iterable[str]) -> None:
        data = "".join(f"{line.rstrip(chr(10))}\n" for line in lines).encode("utf-8", "replace")
        if not data:
            return
        with self.lock:
            if self.file is None or self.offset - self.segment_start >= SEGMENT_BYTES:
                self.rotate()
            assert self.file is not None
            self.file.write(data)
            self.file.flush()
            self.offset += len(data)

    def rotate(self) -> None:
        if self.file is not None:
            self.file.close()
        self.segment_start = self.offset
        path = self.attempt.path / f"{self.offset:012d}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.file = os.fdopen(fd, "ab")
        for _, old in self.attempt.segments()[:-KEEP_SEGMENTS]:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        with self.lock:
            if self.file is not None:
                self.file.close()
                self.file = None


Render = Callable[[str], list[str]]


def plain(line: str) -> list[str]:
    return [line.rstrip("\r\n")]


def pump(stream: IO[bytes], writer: LogWriter, render: Render) -> threading.Thread:
    """A thread copying a process's output into its log, line by line, through ``render``;
    it ends when the process closes its end and closes the log."""

    def copy() -> None:
        try:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace")
                try:
                    lines = render(text)
                except Exception:  # a renderer must never lose output: keep the line as it came
                    lines = plain(text)
                writer.write_lines(lines)
        finally:
            stream.close()
            writer.close()

    thread = threading.Thread(target=copy, daemon=True, name=f"caw-log-{writer.attempt.path.name}")
    thread.start()
    return thread


def summary(attempt: Attempt) -> dict[str, Any]:
    segments = attempt.segments()
    return {"attempt": attempt.number, "agent_id": attempt.agent_id, "size": attempt.size(),
            "first_offset": segments[0][0] if segments else 0}


CLIP = 400
"""Longest piece of one event shown in a rendered line (a tool's input, a result): the log is for
following an agent, the full transcript is the agent CLI's own business."""


def clip(text: Any, limit: int = CLIP) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else f"{flat[:limit]}…"


def json_events(render_event: Callable[[dict[str, Any]], list[str]]) -> Render:
    """A renderer for a stream of JSON objects, one per line; any other line is kept as it came,
    and an event the renderer does not know is shown by its type, not dropped."""
    import json

    def render(line: str) -> list[str]:
        try:
            event = json.loads(line)
        except ValueError:
            return plain(line)
        if not isinstance(event, dict):
            return plain(line)
        return render_event(event)

    return render
