"""An agent for ``caw work`` tests, run by the subprocess runtime: it writes a file named for
its issue in its working directory (the issue's worktree; with FORGE_AGENT_SHARED set, a
file every agent writes too; with FORGE_AGENT_TODO set, a ``TODO`` line in its file that a
stand-in CI fails on), commits it,
(with FORGE_AGENT_FAIL set, it fails its task instead) and completes its task
with an outcome naming the directory it worked in and the commit it made.

Given ``caw pr cycle``'s task to fix failing checks, it drops every ``TODO`` line of the files
in its working directory and commits that, if anything changed; given one to resolve a rebase,
it rebases and keeps both sides' lines of each conflicting file; given a review, it approves
(completes), or with FORGE_AGENT_REJECT set fails the task with that reason."""

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
        if task["name"] == "Fix the failing checks":
            fix(cwd)
            finish(client, task_id, cwd)
            return
        if task["name"] == "Review the pull request":
            if os.environ.get("FORGE_AGENT_REJECT"):  # the reviewer refuses the change
                for status in STEPS[STEPS.index(task["status"]) + 1:] if task["status"] in STEPS else []:
                    client.call("task_update_status", id=task_id, status=status)
                client.call("task_update_status", id=task_id, status="failed", error=os.environ["FORGE_AGENT_REJECT"])
            else:
                finish(client, task_id, cwd)
            return
        if task["name"] == "Resolve the rebase conflicts":
            resolve(cwd, re.search(r"git rebase (\S+)", task["description"])[1])  # type: ignore[index]
            finish(client, task_id, cwd)
            return
        number = re.match(r"#(\d+)", task["name"])[1]  # type: ignore[index]
        with open(os.path.join(cwd, f"issue-{number}.txt"), "w", encoding="utf-8") as out:
            out.write(f"fixed issue {number}\n" + ("TODO: tidy up\n" if os.environ.get("FORGE_AGENT_TODO") else ""))
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


def fix(cwd: str) -> None:
    """Drop the TODO lines the stand-in CI fails on; commit if that changed anything."""
    listed = subprocess.run(["git", "ls-files"], cwd=cwd, check=True, capture_output=True, text=True).stdout
    for name in listed.splitlines():
        with open(os.path.join(cwd, name), encoding="utf-8") as f:
            lines = f.readlines()
        with open(os.path.join(cwd, name), "w", encoding="utf-8") as f:
            f.writelines(line for line in lines if "TODO" not in line)
    if subprocess.run(["git", "diff", "--quiet"], cwd=cwd).returncode:
        subprocess.run(["git", "commit", "-qam", "drop the TODOs the checks fail on"], cwd=cwd, check=True)


def resolve(cwd: str, onto: str) -> None:
    """Rebase onto ``onto``; each conflicting file gets both sides' lines (the base's first)."""
    run = subprocess.run(["git", "rebase", onto], cwd=cwd, capture_output=True)
    while run.returncode:
        conflicted = subprocess.run(["git", "diff", "--name-only", "--diff-filter=U"], cwd=cwd, check=True,
                                    capture_output=True, text=True).stdout.split()
        for name in conflicted:
            sides = [subprocess.run(["git", "show", f":{stage}:{name}"], cwd=cwd, capture_output=True,
                                    text=True).stdout.splitlines(keepends=True) for stage in (2, 3)]
            with open(os.path.join(cwd, name), "w", encoding="utf-8") as f:
                f.writelines(dict.fromkeys(sides[0] + sides[1]))
            subprocess.run(["git", "add", name], cwd=cwd, check=True)
        run = subprocess.run(["git", "-c", "core.editor=true", "rebase", "--continue"], cwd=cwd, capture_output=True)


def finish(client: caw_lab.Client, task_id: str, cwd: str) -> None:
    now = client.call("task_get", id=task_id)["status"]
    for status in STEPS[STEPS.index(now) + 1:] if now in STEPS else []:
        client.call("task_update_status", id=task_id, status=status)
    client.call("task_update_status", id=task_id, status="completed", outcome=json.dumps({"cwd": cwd}))


if __name__ == "__main__":
    main()
