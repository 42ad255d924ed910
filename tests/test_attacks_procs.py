"""Attacks on caw-lab's processes, each through real processes: an executor SIGKILLed under
agents that fork, hide and ignore SIGTERM; a webhook that accepts and never answers; secrets
in the executor's environment; a workflow named with terminal escape sequences; a local D1
whose token would sit on a command line and whose server dies under it."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import caw_lab
from conftest import make_workflow

TESTS = Path(__file__).resolve().parent
CAW = str(Path(sys.executable).with_name("caw"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.05)
    return found


@pytest.fixture(autouse=True)
def local_runtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local user's runtime config (``CAW_RUNTIMES``), where agents' commands come from."""
    config = tmp_path / "runtimes.toml"
    monkeypatch.setenv("CAW_RUNTIMES", str(config))
    monkeypatch.setitem(ENV, "CAW_RUNTIMES", str(config))
    return config


def subprocess_workflow(
    client: caw_lab.Client, command: list[str], tasks: list[dict[str, Any]] | None = None, **execution: Any
) -> str:
    """A workflow whose tasks run ``command`` with the subprocess runtime, set by the local user
    in the local runtime config (a workflow's config may not name a command)."""
    Path(os.environ["CAW_RUNTIMES"]).write_text(f"[subprocess]\ncommand = {json.dumps(command)}\n")
    tasks = tasks or [{"name": "only"}]
    wf = make_workflow(client, tasks, max_parallel_tasks=len(tasks))  # claims enforce it: all may run at once
    client.call(
        "workflow_set_config",
        id=wf["id"],
        config={
            "execution": {
                "runtime": "subprocess",
                "poll_interval_ms": 20,
                "stop_grace_ms": 1000,
                **execution,
            },
            "retry": {"max_attempts": 1},
        },
    )
    return wf["id"]


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (zombies have no environment left)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0"):
            found.append(int(entry))
    return found


# -- agents die with the executor ------------------------------------------------------------

TREE = r"""
import os, subprocess, sys, time
pids = [subprocess.Popen(["sleep", "300"]).pid,
        subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & wait"]).pid,
        subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)"]).pid]
if os.fork() == 0:  # a daemon: its parent exits at once, it leaves the group and ignores SIGTERM
    if os.fork() == 0:
        os.setsid()
        import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1] + ".daemon", "w").write(str(os.getpid()))
        time.sleep(300)
    os._exit(0)
time.sleep(0.5)
open(sys.argv[1], "w").write(" ".join(map(str, pids)))
time.sleep(300)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the keeper needs Linux's prctl and /proc")
def test_sigkilled_executor_takes_every_agent_descendant_with_it(
    client: caw_lab.Client, db_path: Path, tmp_path: Path
) -> None:
    workflow_id = subprocess_workflow(
        client,
        [sys.executable, "-c", TREE, f"{tmp_path}/{{task_id}}"],
        tasks=[{"name": "a"}, {"name": "b"}],
        max_agents=2,
    )
    run = subprocess.Popen(
        [CAW, "--db", str(db_path), "run", workflow_id], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    marker = f"CAW_WORKFLOW_ID={workflow_id}"
    try:
        wait_for(lambda: len(list(tmp_path.glob("tk_*"))) == 4, 60, "the agents' process trees")
        # two agents, each: keeper, agent, sleep, sh + 2 sleeps, setsid'd python, daemon
        wait_for(lambda: len(processes_with(marker)) >= 14, 30, "every descendant started")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    deadline = time.monotonic() + 8
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # a failure leaves nothing running for five minutes
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]


# -- agents get no secrets unless the local user passes them -------------------------------

DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
SECRETS = {
    "CAW_TOKEN": "caw-secret",
    "GITHUB_TOKEN": "ghp_secret",
    "GITLAB_TOKEN": "glpat-secret",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "MY_SERVICE_SECRET": "s3cr3t",
    "DB_PASSWORD": "hunter2",
    "DATABASE_URL": "postgres://app:hunter2@db.internal/app",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


def test_agents_inherit_no_secret_unless_the_local_user_passes_it(
    client: caw_lab.Client, db_path: Path, tmp_path: Path
) -> None:
    seen = tmp_path / "env.json"
    workflow_id = subprocess_workflow(client, [sys.executable, "-c", DUMP_ENV, str(seen)])
    env = {**ENV, **SECRETS, "PLAIN_SETTING": "kept", "CAW_PASS_ENV": "AWS_*"}
    done = subprocess.run(
        [CAW, "--db", str(db_path), "run", workflow_id, "--pass-env", "GITLAB_TOKEN"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # the agent did not finish its task
    inherited = json.loads(seen.read_text())
    withheld = {"CAW_TOKEN", "GITHUB_TOKEN", "ANTHROPIC_API_KEY", "MY_SERVICE_SECRET", "DB_PASSWORD", "DATABASE_URL"}
    assert not withheld & set(inherited), sorted(withheld & set(inherited))
    assert inherited["GITLAB_TOKEN"] == "glpat-secret" and inherited["AWS_SECRET_ACCESS_KEY"] == "aws-secret"
    assert inherited["PLAIN_SETTING"] == "kept" and inherited["CAW_DB_PATH"] == str(db_path)


@pytest.mark.parametrize("where", ["execution", "runtime options"])
def test_a_workflow_config_cannot_ask_for_the_executors_secrets(
    client: caw_lab.Client, db_path: Path, tmp_path: Path, where: str
) -> None:
    seen = tmp_path / "env.json"
    command = [sys.executable, "-c", DUMP_ENV, str(seen)]
    Path(os.environ["CAW_RUNTIMES"]).write_text(f"[subprocess]\ncommand = {json.dumps(command)}\n")
    subprocess_options: dict[str, Any] = {}
    execution: dict[str, Any] = {"runtime": "subprocess", "runtimes": {"subprocess": subprocess_options}}
    if where == "execution":
        execution["env_passthrough"] = ["*"]
    else:
        subprocess_options["env_passthrough"] = ["*"]
    workflow_id = make_workflow(client, [{"name": "only"}])["id"]
    client.call("workflow_set_config", id=workflow_id, config={"execution": execution})
    done = subprocess.run(
        [CAW, "--db", str(db_path), "run", workflow_id],
        env={**ENV, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and json.loads(done.stderr)["code"] == "INVALID_CONFIG", done.stdout + done.stderr
    assert not seen.exists(), "no agent ran"


# -- a silent webhook neither holds up a run nor loses an alert ----------------------------


@contextmanager
def silent_listener() -> Iterator[tuple[str, list[socket.socket]]]:
    """A real TCP server on loopback that accepts every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks/s3cret-path", held
    finally:
        stop.set()
        thread.join()
        for conn in [*held, server]:
            conn.close()


def test_a_silent_webhook_delays_a_run_by_the_drain_time_at_most_and_loses_no_alert(
    client: caw_lab.Client, db_path: Path
) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}, {"name": "c"}], max_parallel_tasks=3)
    with silent_listener() as (url, held):
        Path(os.environ["CAW_RUNTIMES"]).write_text('[python]\nwork = "runtime_work:always_fails"\n')
        client.call(
            "workflow_set_config",
            id=wf["id"],
            config={
                "execution": {
                    "runtime": "python",
                    "poll_interval_ms": 20,
                    "alerts": {"log": True, "webhook": url, "drain_ms": 2000},
                },
                "retry": {"max_attempts": 1},
            },
        )
        done = subprocess.run(
            [CAW, "--db", str(db_path), "run", wf["id"]], env=ENV, capture_output=True, text=True, timeout=120
        )
        ended_ms = time.time() * 1000
        assert done.returncode == 1, done.stdout + done.stderr
        assert held, "the webhook was called"
    events = client.call("events_list", workflow_id=wf["id"], limit=1000)["events"]
    [finished] = [e for e in events if e["kind"] == "execution.finished"]
    assert ended_ms - finished["at"] < 2000 + 4000, "the run waited for its alerts beyond the drain time"
    raised = [e for e in events if e["kind"] == "alert.raised"]
    undelivered = {e["payload"]["alert_seq"]: e for e in events if e["kind"] == "alert.undelivered"}
    assert len(raised) >= 4 and set(undelivered) == {a["seq"] for a in raised}
    assert len(undelivered) == len([e for e in events if e["kind"] == "alert.undelivered"]), "one record an alert"
    for alert in raised:
        record = undelivered[alert["seq"]]
        assert record["correlation_id"].startswith(alert["correlation_id"] + ".")
        assert record["payload"]["sink"] == "webhook http://127.0.0.1" and record["payload"]["error"]
        assert "s3cret" not in json.dumps(record)
        lines = [line for line in done.stderr.splitlines() if f"(correlation id {alert['correlation_id']})" in line]
        assert len(lines) == 1 and "not delivered" in lines[0], done.stderr


# -- terminal escape sequences in user text are shown, not obeyed ---------------------------

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # "put `rm -rf ~` on the clipboard"
HOSTILE = f"release{OSC52}\x1b[2J\x9b31m\u202eexe.txt"
SHOWN = "release\\x1b]52;c;cm0gLXJmIH4K\\x07\\x1b[2J\\x9b31m\\u202eexe.txt"
TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_workflow(client: caw_lab.Client, db_path: Path) -> str:
    """A workflow and task named with escape sequences, as any writer of the database may have left them."""
    wf = make_workflow(client, [{"name": "first"}, {"name": "second", "depends_on": ["first"]}])
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE workflows SET name = ? WHERE id = ?", (HOSTILE, wf["id"]))
        db.execute("UPDATE tasks SET name = ? WHERE id = ?", (f"task{OSC52}", wf["tasks"]["first"]))
    return wf["id"]


@pytest.mark.parametrize("command", [["show", "{id}"], ["workflows"]])
def test_escape_sequences_in_names_reach_a_terminal_only_as_visible_text(
    client: caw_lab.Client, db_path: Path, command: list[str]
) -> None:
    workflow_id = hostile_workflow(client, db_path)
    argv = [CAW, "--db", str(db_path), *(a.replace("{id}", workflow_id) for a in command)]
    shown = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=ENV)
    assert shown.returncode == 0, shown.stderr
    assert not TERMINAL_CONTROLS.search(shown.stdout), repr(shown.stdout)
    assert SHOWN in shown.stdout
    as_json = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=60, env=ENV)
    assert not TERMINAL_CONTROLS.search(as_json.stdout), "JSON carries controls as \\u escapes"
    parsed = json.loads(as_json.stdout)
    names = [parsed["name"]] if "name" in parsed else [w["name"] for w in parsed["workflows"]]
    assert HOSTILE in names, "JSON keeps the value exactly"


def test_a_field_printed_for_a_script_is_raw_in_a_pipe_and_escaped_on_a_terminal(
    client: caw_lab.Client, db_path: Path
) -> None:
    workflow_id = hostile_workflow(client, db_path)
    argv = [
        CAW,
        "--db",
        str(db_path),
        "call",
        "workflow_get",
        "--json",
        json.dumps({"id": workflow_id}),
        "--field",
        "name",
    ]
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=ENV)
    assert piped.stdout == HOSTILE + "\n"
    leader, follower = pty.openpty()
    try:
        on_terminal = subprocess.run(argv, stdout=follower, stderr=subprocess.PIPE, timeout=60, env=ENV)
        assert on_terminal.returncode == 0, on_terminal.stderr
        written = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert written == SHOWN + "\r\n"  # the terminal's line discipline adds the \r


# -- caw d1 local: no token on a command line, no life after its server -------------------


def alive(pid: int) -> bool:
    """Running or stopped, not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def descendants(root: int) -> dict[int, bytes]:
    """Live processes below ``root``, with their command lines."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        todo += children.get(pid, [])
    return found


@pytest.mark.skipif(shutil.which("npm") is None, reason="the local D1 needs Node.js and npm")
@pytest.mark.parametrize("attack", ["kill node", "freeze the server", "kill workerd", "kill the CLI"])
def test_d1_local_keeps_its_token_off_command_lines_and_exits_when_its_server_dies(tmp_path: Path, attack: str) -> None:
    cli = subprocess.Popen(
        [CAW, "d1", "local", "--port", "0", "--persist", str(tmp_path / "d1")],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert cli.stdout is not None and cli.stderr is not None
        lines: list[str] = []
        while not (lines and lines[-1].startswith("caw --db")):  # after npm's output on a first run
            lines.append(cli.stdout.readline())
            assert lines[-1], "caw d1 local ended before it was ready"
        [token] = [line.strip().split("=", 1)[1] for line in lines if line.startswith("export CAW_D1_TOKEN=")]
        [api] = [line.strip().split("=", 1)[1] for line in lines if line.startswith("export CAW_D1_API=")]
        server = wait_for(lambda: (found := descendants(cli.pid)) and len(found) == 2 and found, 60, "node and workerd")
        assert all(token.encode() not in cmdline for cmdline in server.values()), server
        [node] = [pid for pid, cmdline in server.items() if b"server.mjs" in cmdline]
        [workerd] = [pid for pid, cmdline in server.items() if b"workerd" in cmdline]
        if attack == "kill workerd":  # Miniflare restarts it: a crash it heals is no death
            os.kill(workerd, signal.SIGKILL)
            with pytest.raises(subprocess.TimeoutExpired):
                cli.wait(timeout=6)
            assert httpx.get(api, timeout=5).status_code < 500
            return
        if attack == "kill the CLI":
            cli.kill()
            cli.wait()
            wait_for(lambda: not any(map(alive, server)), 20, "the server to stop with its CLI")
            return
        if attack == "kill node":
            os.kill(node, signal.SIGKILL)
        else:  # a server that accepts connections and answers nothing
            os.killpg(node, signal.SIGSTOP)
        assert cli.wait(timeout=40) == 1
        assert "server died" in cli.stderr.read()
        wait_for(lambda: not any(map(alive, server)), 10, "nothing left of the server")
    finally:
        if cli.poll() is None:
            cli.terminate()
            cli.wait(30)
