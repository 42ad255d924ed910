"""Attacks on the SQLite store through real processes and real files: a writer stopped with
SIGSTOP while it holds the locks, a reader pinning an old snapshot while writers fill the
log, a permissive umask, damaged and unopenable files, a full disk. Each asserts the
refusal (a one-line CawError, never a traceback) and that nothing changed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.store.sqlite import WAL_LIMIT_BYTES
from tests.conftest import dump, make_workflow

CAW = str(Path(sys.executable).with_name("caw"))
BOUND_S = 1.5
"""The busy timeout the attacked processes run with (CAW_BUSY_TIMEOUT_MS)."""

BUSY_ENV = {**os.environ, "CAW_BUSY_TIMEOUT_MS": str(int(BOUND_S * 1000))}
PATIENT_ENV = {**os.environ, "CAW_BUSY_TIMEOUT_MS": "60000"}
"""For readers: were they to wait for the stopped writer, they would not answer within a test's patience."""

HOLDER = textwrap.dedent(
    """
    import sys
    from caw_lab.store import SQLiteBackend, Statement
    db = SQLiteBackend(sys.argv[1])
    print("writing", flush=True)
    # a write batch that never ends: the writer holds SQLite's write lock
    db.batch([Statement("INSERT INTO events (at, kind, correlation_id) VALUES (1, 'held', 'held')"),
              Statement("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0")])
    """
)

FOREIGN_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("writing", flush=True)
    time.sleep(600)
    """
)

TIMED_CALL = textwrap.dedent(
    """
    import json, sys, time, caw_lab
    client = caw_lab.connect(sys.argv[1])
    start = time.monotonic()
    try:
        client.call(sys.argv[2], **json.loads(sys.argv[3]))
        error = None
    except caw_lab.CawError as err:
        error = err.to_dict()
    print(json.dumps({"seconds": time.monotonic() - start, "error": error}))
    """
)

LONG_SOURCE = " ".join(f"Sentence {i} of a long issue body." for i in range(20_000))
"""Long enough that loading a task's context compresses it: the load must still write nothing."""


def in_progress_task(db_path: Path) -> str:
    """A workflow whose one task is claimed and in progress, so checkpoints may be added to it."""
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": "work"}], name="attacked")
        task = wf["tasks"]["work"]
        agent = client.call("agent_register", name="a", runtime="custom")["id"]
        client.call("task_claim", task_id=task, agent_id=agent)
        client.call("task_update_status", id=task, status="planning")
        client.call("task_update_status", id=task, status="in_progress")
    return task


def snapshot(db_path: Path) -> dict[str, list[dict[str, Any]]]:
    with caw_lab.connect(db_path) as client:
        return dump(client.db)


def write_lock_held(db_path: Path) -> bool:
    """Whether another connection holds SQLite's write lock on ``db_path`` (asked without waiting)."""
    probe = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.fixture
def stopped(db_path: Path) -> Iterator[Any]:
    """Start a holder script on ``db_path``, stop it with SIGSTOP once it writes; SIGKILL at the end."""
    held: list[subprocess.Popen[str]] = []

    def stop(script: str, until: Any = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", script, str(db_path)], stdout=subprocess.PIPE, text=True)
        held.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 20
        while until is not None and not until() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGSTOP)
        return proc

    yield stop
    for proc in held:
        proc.kill()
        proc.wait()


def timed(db_path: Path, tool: str, env: dict[str, str] = BUSY_ENV, **params: Any) -> dict[str, Any]:
    """``tool`` called in another process: how long it took, and its error if any."""
    done = subprocess.run([sys.executable, "-c", TIMED_CALL, str(db_path), tool, json.dumps(params)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def timed_checkpoint(db_path: Path, task: str) -> dict[str, Any]:
    return timed(db_path, "checkpoint_add", task_id=task, type="progress", summary="while stopped")


def test_a_stopped_writer_turns_into_database_busy_and_reading_goes_on(db_path: Path, stopped: Any) -> None:
    task = in_progress_task(db_path)
    with caw_lab.connect(db_path) as client:
        wf = client.call("workflow_create", name="long", source_type="prompt", source_content=LONG_SOURCE)
        plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": [{"name": "read"}]})
    before = snapshot(db_path)
    holder = stopped(HOLDER, until=lambda: write_lock_held(db_path))
    assert write_lock_held(db_path), "the stopped writer should hold SQLite's write lock"

    outcome = timed_checkpoint(db_path, task)
    assert outcome["error"]["code"] == "DATABASE_BUSY" and outcome["error"]["recoverable"]
    assert BOUND_S - 0.1 <= outcome["seconds"] <= BOUND_S + 1.0

    # reading never waits: with a minute's busy timeout, it still answers at once
    listed = subprocess.run([CAW, "--db", str(db_path), "workflows", "--json"], capture_output=True, text=True,
                            env=PATIENT_ENV, timeout=30)
    assert listed.returncode == 0, listed.stderr
    attacked = {w["name"]: w["id"] for w in json.loads(listed.stdout)["workflows"]}["attacked"]
    shown = subprocess.run([CAW, "--db", str(db_path), "show", attacked], capture_output=True, text=True,
                           env=PATIENT_ENV, timeout=30)
    assert shown.returncode == 0 and "work" in shown.stdout, shown.stderr
    # loading a context (compressing a long source) answers too
    loaded = timed(db_path, "task_load_context", env=PATIENT_ENV, task_id=plan["tasks"][0]["id"])
    assert loaded["error"] is None and loaded["seconds"] < 10
    assert snapshot(db_path) == before

    holder.kill()  # a dead holder's lock is free at once
    holder.wait()
    assert timed_checkpoint(db_path, task)["error"] is None


def test_a_stopped_foreign_writer_turns_into_database_busy(db_path: Path, stopped: Any) -> None:
    """A process outside caw-lab holding SQLite's write lock: SQLite's own "database is locked"."""
    task = in_progress_task(db_path)
    before = snapshot(db_path)
    stopped(FOREIGN_HOLDER)
    outcome = timed_checkpoint(db_path, task)
    assert outcome["error"]["code"] == "DATABASE_BUSY" and outcome["error"]["recoverable"]
    assert BOUND_S - 0.1 <= outcome["seconds"] <= BOUND_S + 1.0
    assert snapshot(db_path) == before


READER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(*) FROM events").fetchall()
    print("reading", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("done", flush=True)
    sys.stdin.readline()
    """
)

WRITER = textwrap.dedent(
    """
    import sys, caw_lab
    client = caw_lab.connect(sys.argv[1])
    for _ in range(int(sys.argv[3])):
        client.call("checkpoint_add", task_id=sys.argv[2], type="progress", summary="s", detail={"blob": "x" * 65536})
    """
)


def write(db_path: Path, task: str, calls: int, processes: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), task, str(calls)])
             for _ in range(processes)]
    assert [p.wait(timeout=120) for p in procs] == [0] * processes


def test_the_log_shrinks_back_under_its_limit_after_a_long_reader(db_path: Path) -> None:
    task = in_progress_task(db_path)
    wal = Path(f"{db_path}-wal")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdin is not None and reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "reading"
        write(db_path, task, calls=150, processes=2)
        grown = wal.stat().st_size
        assert grown > 2 * WAL_LIMIT_BYTES, "the reader's snapshot should have kept the log from being reused"

        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "done"  # the read ends; its connection stays open
        write(db_path, task, calls=2, processes=1)
        assert wal.stat().st_size <= WAL_LIMIT_BYTES < grown
    finally:
        reader.kill()
        reader.wait()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert raw.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 302
    raw.close()


MODES = textwrap.dedent(
    """
    import json, os, stat, sys, caw_lab
    os.umask(0)
    with caw_lab.connect(sys.argv[1] if len(sys.argv) > 1 else None) as client:
        client.call("workflow_create", name="w", source_type="prompt", source_content="x")
        path = client.db.path
        files = {s: stat.S_IMODE(os.stat(path + s).st_mode) for s in ("", "-wal", "-shm")}
        folder = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
        print(json.dumps({"path": path, "files": files, "folder": folder}))
    """
)


def modes(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", MODES, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_new_database_and_its_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    found = modes(env={"HOME": str(home), "CAW_HOME": "", "CAW_DB_MODE": "global", "CAW_DB_PATH": ""})
    assert found["path"] == str(home / ".caw" / "workflows.db")
    assert found["folder"] == 0o700
    assert found["files"] == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    found = modes(str(folder / "workflows.db"))
    assert found["folder"] == 0o755
    assert found["files"][""] == 0o600


def caw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, *args], capture_output=True, text=True, timeout=60, env=env or dict(os.environ))


def one_line_error(done: subprocess.CompletedProcess[str], code: str) -> dict[str, Any]:
    """The refusal as the CLI shows every one: exit status 1 and one line of CawError JSON."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    error = json.loads(lines[0])
    assert error["code"] == code and error["suggestion"], error
    return error


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def real_database(path: Path) -> bytes:
    with caw_lab.connect(path) as client:
        for i in range(20):
            client.call("workflow_create", name=f"w{i}", source_type="prompt", source_content="x" * 2000)
    data = path.read_bytes()
    assert not Path(f"{path}-wal").exists(), "closing the last connection checkpoints the log away"
    return data


@pytest.mark.parametrize("damage", ["garbage", "truncated header", "truncated half"])
def test_a_damaged_database_is_refused_in_one_line_and_left_alone(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    path = folder / "workflows.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(16384))
    else:
        whole = real_database(tmp_path / "whole.db")
        path.write_bytes(whole[: 100 if damage == "truncated header" else len(whole) // 2])
    before = files(folder)
    for args in (["workflows"], ["call", "workflow_create", "--json",
                                 '{"name": "n", "source_type": "prompt", "source_content": "x"}']):
        error = one_line_error(caw("--db", str(path), *args), "DATABASE_CORRUPT")
        assert str(path) in error["message"] and not error["recoverable"]
    assert files(folder) == before


def test_a_path_that_cannot_be_a_database_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    for path in (tmp_path, tmp_path / "plain" / "workflows.db"):
        before = files(tmp_path)
        one_line_error(caw("--db", str(path), "workflows"), "DATABASE_UNAVAILABLE")
        assert files(tmp_path) == before


def test_a_bad_busy_timeout_is_refused_in_one_line(db_path: Path) -> None:
    error = one_line_error(caw("--db", str(db_path), "workflows", env={**os.environ, "CAW_BUSY_TIMEOUT_MS": "soon"}),
                           "INVALID_INPUT")
    assert "CAW_BUSY_TIMEOUT_MS" in error["message"]
    assert not db_path.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs: writing past it fails with ENOSPC, as on a full disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    return filler


def test_a_full_disk_is_refused_in_one_line_and_changes_nothing(small_disk: Path) -> None:
    path = small_disk / "workflows.db"
    with caw_lab.connect(path) as client:
        client.call("workflow_create", name="kept", source_type="prompt", source_content="x")
        before = dump(client.db)
    filler = fill(small_disk)
    create = '{"name": "more", "source_type": "prompt", "source_content": "' + "x" * 20000 + '"}'
    one_line_error(caw("--db", str(path), "call", "workflow_create", "--json", create), "DISK_FULL")
    one_line_error(caw("--db", str(small_disk / "new" / "workflows.db"), "init"), "DISK_FULL")
    filler.unlink()
    assert snapshot(path) == before
