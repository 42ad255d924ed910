"""An agent for the subprocess runtime that does real git work in its working directory.

Its task's description (JSON) says what to write: ``{"write": {"file": "text"}}``, or to change
in a file: ``{"replace": {"file": ["old", "new"]}}``; it
records where it ran and what it saw (JSON lines in ``$AGENT_RECORD``), commits, and
completes its task, trying again while the completion waits for a sibling's merge
(MERGE_PENDING). ``{"dirty": true}`` leaves its writes uncommitted and waits to be killed, unless it finds them
already there (kept from an attempt that was killed);
``{"hold": "path"}`` waits until that file exists before completing, ``{"touch": "path"}``
makes it once completed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import caw_lab
from caw_lab.errors import CawError


def main() -> None:
    task_id = os.environ["CAW_TASK_ID"]
    with caw_lab.connect(os.environ["CAW_DB_PATH"]) as client:
        task = client.call("task_get", id=task_id)
        spec = json.loads(task.get("description") or "{}")
        seen = sorted(p.name for p in Path.cwd().iterdir() if p.name not in (".git", ".caw"))
        with open(os.environ["AGENT_RECORD"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"task": task["name"], "cwd": os.getcwd(), "worktree": os.environ.get("CAW_WORKTREE"),
                                "branch": os.environ.get("CAW_BRANCH"), "seen": seen}) + "\n")
        if task["status"] == "pending":
            client.call("task_update_status", id=task_id, status="planning")
        if task["status"] in ("pending", "planning", "paused"):
            client.call("task_update_status", id=task_id, status="in_progress")
        kept = all(Path(name).exists() for name in spec.get("write", {}))
        for name, text in spec.get("write", {}).items():
            Path(name).write_text(text, encoding="utf-8")
        for name, (old, new) in spec.get("replace", {}).items():
            Path(name).write_text(Path(name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        if spec.get("dirty") and not kept:
            time.sleep(600)
        git("add", "-A")
        if subprocess.run(["git", "diff", "--cached", "--quiet"]).returncode:
            changed = [*spec.get("write", {}), *spec.get("replace", {})]
            git("commit", "-q", "-m", f"{task['name']}: write {', '.join(changed)}")
        if spec.get("hold"):
            while not Path(spec["hold"]).exists():
                time.sleep(0.05)
        complete(client, task_id)
        if spec.get("touch"):
            Path(spec["touch"]).write_text("done")


def complete(client: caw_lab.Client, task_id: str) -> None:
    for _ in range(600):
        try:
            client.call("task_update_status", id=task_id, status="completed", outcome="committed")
            return
        except CawError as error:
            if error.code == "MERGE_CONFLICT":
                return
            if error.code != "MERGE_PENDING":
                raise
            time.sleep(0.05)


def git(*args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@example.com",
           "GIT_COMMITTER_NAME": "agent", "GIT_COMMITTER_EMAIL": "agent@example.com"}
    subprocess.run(["git", *args], check=True, env=env)


if __name__ == "__main__":
    main()
