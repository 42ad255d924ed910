"""The SQLite store: migrations applied once (even when processes race), pragmas, DB location."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import subprocess
import sys
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
def test_connections_use_wal_foreign_keys_and_a_busy_timeout(client: caw_lab.Client) -> None:
    assert client.db.scalar("PRAGMA journal_mode") == "wal"
    assert client.db.scalar("PRAGMA foreign_keys") == 1
    assert client.db.scalar("PRAGMA busy_timeout") >= 5000


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
