"""The SQLite store: migrations applied once (even when processes race), pragmas, DB location."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import caw_lab
from caw_lab.store import SQLiteBackend, Statement, migrate
from caw_lab.store.migrate import available
from tests.conftest import dump

CAW = str(Path(sys.executable).with_name("caw"))
LOCATION_VARS = ("CAW_DB_PATH", "CAW_DB_MODE", "CAW_REPO_PATH", "CAW_HOME")


def test_every_migration_is_recorded_once(client: caw_lab.Client) -> None:
    rows = client.db.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _ in available()]
    assert all(r["applied_at"] > 0 for r in rows)


@pytest.mark.sqlite_only
def test_migrating_again_changes_nothing(client: caw_lab.Client) -> None:
    client.call("workflow_create", name="kept", source_type="prompt", source_content="x")
    before = dump(client.db)
    assert migrate(client.db) == []
    with caw_lab.connect(client.db.path) as again:
        assert dump(again.db) == before


AUTOINCREMENTED_EVENTS = """CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
  kind TEXT NOT NULL, workflow_id TEXT, task_id TEXT, agent_id TEXT, payload TEXT, correlation_id TEXT NOT NULL)"""


@pytest.mark.sqlite_only
def test_the_feed_rebuilt_without_autoincrement_keeps_every_event_and_counts_on(client: caw_lab.Client) -> None:
    wf = client.call("workflow_create", name="fed", source_type="prompt", source_content="x")
    client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": [{"name": "a"}, {"name": "b"}]})
    # back to the feed before migration 012: AUTOINCREMENT, its counter and every event as it was
    client.db.batch([Statement(s) for s in (
        "ALTER TABLE events RENAME TO events_new", AUTOINCREMENTED_EVENTS,
        "INSERT INTO events SELECT * FROM events_new", "DROP TABLE events_new",
        "CREATE INDEX idx_events_workflow ON events(workflow_id, seq)",
        "CREATE INDEX idx_events_task ON events(task_id, seq)",
        "CREATE INDEX idx_events_correlation ON events(correlation_id)",
        "DELETE FROM schema_migrations WHERE version = 12")])
    before = client.db.query("SELECT * FROM events ORDER BY seq")
    assert client.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'") == [{"seq": before[-1]["seq"]}]
    assert migrate(client.db) == [12]
    assert client.db.query("SELECT * FROM events ORDER BY seq") == before
    client.call("agent_register", name="late", runtime="custom")
    assert client.db.query("SELECT seq, kind FROM events WHERE seq > ?", (before[-1]["seq"],)) == [
        {"seq": before[-1]["seq"] + 1, "kind": "agent.registered"}]
    assert client.db.query("SELECT name FROM sqlite_sequence WHERE name = 'events'") == []
    assert {r["name"] for r in client.db.query("SELECT name FROM sqlite_master WHERE tbl_name = 'events'")} == {
        "events", "idx_events_workflow", "idx_events_task", "idx_events_correlation"}


def open_fresh(paths: list[str], barrier: multiprocessing.synchronize.Barrier) -> None:
    """One racer: for each path, wait for the others, then open (and migrate) it at once."""
    for path in paths:
        barrier.wait(timeout=20)
        caw_lab.connect(path).close()


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"race{i}.db") for i in range(10)]
    barrier = ctx.Barrier(4)
    racers = [ctx.Process(target=open_fresh, args=(paths, barrier)) for _ in range(4)]
    for p in racers:
        p.start()
    for p in racers:
        p.join(timeout=120)
    assert [p.exitcode for p in racers] == [0, 0, 0, 0]
    for path in paths:
        db = SQLiteBackend(path)
        versions = [r["version"] for r in db.query("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [v for v, _ in available()]
        assert db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'tasks'") == 1
        db.close()


@pytest.mark.sqlite_only
def test_connections_use_wal_and_foreign_keys(client: caw_lab.Client) -> None:
    assert client.db.scalar("PRAGMA journal_mode") == "wal"
    assert client.db.scalar("PRAGMA foreign_keys") == 1


def hold_write_lock(db_path: Path) -> sqlite3.Connection:
    """Another connection holding SQLite's write lock until it commits."""
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_writer_waits_for_the_write_lock_while_the_same_process_reads_on(db_path: Path) -> None:
    db = SQLiteBackend(db_path)
    migrate(db)
    holder = hold_write_lock(db_path)
    write = threading.Thread(target=db.batch, args=([Statement(
        "INSERT INTO events (at, kind, correlation_id) VALUES (1, 'waited', 'w')")],))
    write.start()
    time.sleep(0.3)
    assert write.is_alive(), "the write should wait for the lock"
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'waited'") == 0  # a read answers meanwhile
    holder.execute("COMMIT")
    write.join(timeout=2)
    assert not write.is_alive()
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'waited'") == 1
    holder.close()
    db.close()


@pytest.mark.parametrize("timeout_ms", [0, 300])
def test_a_writer_gives_up_after_the_busy_timeout_and_writes_nothing(db_path: Path, timeout_ms: int) -> None:
    migrate(SQLiteBackend(db_path))
    db = SQLiteBackend(db_path, busy_timeout_ms=timeout_ms)
    holder = hold_write_lock(db_path)
    start = time.monotonic()
    with pytest.raises(caw_lab.CawError) as info:
        db.batch([Statement("INSERT INTO events (at, kind, correlation_id) VALUES (1, 'late', 'l')")])
    waited = time.monotonic() - start
    assert info.value.code == "DATABASE_BUSY" and info.value.recoverable
    assert timeout_ms / 1000 <= waited < timeout_ms / 1000 + 0.5
    holder.execute("ROLLBACK")
    holder.close()
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'late'") == 0
    db.close()


def test_foreign_keys_are_enforced(client: caw_lab.Client) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        client.db.batch([Statement("INSERT INTO workflow_repositories VALUES ('wf_none', 'rp_none', 0)")])
    assert info.value.code == "CONSTRAINT_VIOLATION"


def init(cwd: Path, **env: str) -> Path:
    """Where ``caw init`` put the database, given ``env`` on top of a location-free environment."""
    base = {k: v for k, v in os.environ.items() if k not in LOCATION_VARS}
    args = [CAW, *(["--db", env.pop("db")] if "db" in env else []), "init"]
    done = subprocess.run(args, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.exists()
    return path.resolve()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree (a ``.git`` folder is what marks one) with a nested folder."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "deep").mkdir(parents=True)
    return tmp_path / "repo"


def test_db_option_comes_first(tmp_path: Path, repo: Path) -> None:
    found = init(repo, db=str(tmp_path / "flag.db"), CAW_DB_PATH=str(tmp_path / "env.db"), CAW_DB_MODE="global",
                 HOME=str(tmp_path))
    assert found == (tmp_path / "flag.db").resolve()


def test_db_path_variable_beats_the_mode(tmp_path: Path, repo: Path) -> None:
    found = init(repo, CAW_DB_PATH=str(tmp_path / "env.db"), CAW_DB_MODE="global", HOME=str(tmp_path))
    assert found == (tmp_path / "env.db").resolve()


def test_global_mode_uses_the_home_folder(tmp_path: Path, repo: Path) -> None:
    found = init(repo, CAW_DB_MODE="global", HOME=str(tmp_path / "home"))
    assert found == (tmp_path / "home" / ".caw" / "workflows.db").resolve()


def test_per_repo_mode_finds_the_git_root_from_caw_repo_path(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    found = init(tmp_path / "elsewhere", CAW_REPO_PATH=str(repo / "src" / "deep"))
    assert found == (repo / ".caw" / "workflows.db").resolve()


@pytest.mark.parametrize("mode", [None, "per-repo", "repository"])
def test_per_repo_mode_finds_the_git_root_from_the_working_directory(repo: Path, mode: str | None) -> None:
    found = init(repo / "src" / "deep", **({"CAW_DB_MODE": mode} if mode else {}))
    assert found == (repo / ".caw" / "workflows.db").resolve()


def test_outside_a_repository_the_working_directory_holds_it(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert init(tmp_path / "plain") == (tmp_path / "plain" / ".caw" / "workflows.db").resolve()
