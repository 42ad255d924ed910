"""An agent for ``caw work`` tests, run by the subprocess runtime: it writes a file named for
its issue in its working directory (the issue's worktree; with FORGE_AGENT_SHARED set, a
file every agent writes too), commits it,
(with FORGE_AGENT_FAIL set, it fails its task instead) and completes its task
with an outcome naming the directory it worked in and the commit it made."""

from __future__ import annotations

import json
import os
import re
import subprocess

import caw_lab

STEPS = ["pending", "planning", "in_progress"]


def main() -> None:
    task_id, cwd = os.environ["CAW_TASK_ID"], os.getcwd()
    with caw_lab.connect(os.environ["CAW_DB_PATH"]) as client:
        task = client.call("task_get", id=task_id)
        if os.environ.get("FORGE_AGENT_FAIL"):  # the agent gives up: its task fails
            now = task["status"]
            for status in STEPS[STEPS.index(now) + 1:] if now in STEPS else []:
                client.call("task_update_status", id=task_id, status=status)
            client.call("task_update_status", id=task_id, status="failed", error=os.environ["FORGE_AGENT_FAIL"])
            return
        number = re.match(r"#(\d+)", task["name"])[1]  # type: ignore[index]
        with open(os.path.join(cwd, f"issue-{number}.txt"), "w", encoding="utf-8") as out:
            out.write(f"fixed issue {number}\n")
        if os.environ.get("FORGE_AGENT_SHARED"):  # every agent writes the same file: their branches conflict
            with open(os.path.join(cwd, "shared.txt"), "w", encoding="utf-8") as out:
                out.write(f"issue {number} was here\n")
        for args in (["add", "-A"], ["commit", "-q", "-m", f"fix #{number}"]):
            subprocess.run(["git", *args], cwd=cwd, check=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, check=True, capture_output=True,
                                text=True).stdout.strip()
        now = client.call("task_get", id=task_id)["status"]
        for status in STEPS[STEPS.index(now) + 1:] if now in STEPS else []:
            client.call("task_update_status", id=task_id, status=status)
        client.call("task_update_status", id=task_id, status="completed",
                    outcome=json.dumps({"cwd": cwd, "commit": commit}))


if __name__ == "__main__":
    main()
