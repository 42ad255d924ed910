"""A writer killed with SIGKILL mid-loop leaves a sound database: every mutation has its event."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import caw_lab

WRITER = textwrap.dedent(
    """
    import sys, caw_lab
    client = caw_lab.connect(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        wf = client.call("workflow_create", name=f"wf{i}", source_type="prompt", source_content="x" * 2000)
        tasks = [{"name": f"t{j}", "depends_on": [f"t{j-1}"] if j else []} for j in range(20)]
        client.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": tasks})
        client.call("workflow_set_config", id=wf["id"], config={"round": i})
        i += 1
    """
)


def run_and_kill(db_path: Path, seconds: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(seconds)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_mid_write_loop_leaves_integrity_and_events(db_path: Path) -> None:
    for seconds in (0.4, 0.7, 1.1):
        run_and_kill(db_path, seconds)

    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []

    def count(sql: str) -> int:
        return raw.execute(sql).fetchone()[0]

    workflows = count("SELECT COUNT(*) FROM workflows")
    assert workflows > 3, "the writer should have made progress before each kill"
    assert workflows == count("SELECT COUNT(*) FROM events WHERE kind = 'workflow.created'")
    planned = count("SELECT COUNT(*) FROM workflows WHERE status = 'ready'")
    assert planned == count("SELECT COUNT(*) FROM events WHERE kind = 'workflow.plan_set'")
    assert count("SELECT COUNT(*) FROM tasks") == 20 * planned
    configured = count("SELECT COUNT(*) FROM workflows WHERE config IS NOT NULL")
    assert configured == count("SELECT COUNT(*) FROM events WHERE kind = 'workflow.config'")
    orphans = count("SELECT COUNT(*) FROM events e WHERE workflow_id IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM workflows w WHERE w.id = e.workflow_id)")
    assert orphans == 0
    raw.close()

    with caw_lab.connect(db_path) as client:
        assert client.call("workflow_list", limit=1)["total"] == workflows
