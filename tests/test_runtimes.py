"""Runtime adapters: the exact command lines and configuration they produce, real processes
started and stopped whole, missing executables refused, third-party adapters loaded by entry
point, and the claude/codex adapters driving stand-in CLIs that speak MCP to caw-lab."""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from caw_lab.runtimes import (
    ClaudeCodeRuntime,
    CodexRuntime,
    Executor,
    Launch,
    PythonRuntime,
    RunOptions,
    SubprocessRuntime,
    local_config,
    registry,
)
from caw_lab.runtimes.environment import inherited
from caw_lab.runtimes.mcp_config import caw_command, server_entry, write_config
from caw_lab.runtimes.prompt import system_prompt, task_prompt
from conftest import dump, make_workflow
from standins import install, path_with

TASK = {"id": "tk_000000000001", "workflow_id": "wf_000000000001", "name": "build", "description": "Build it",
        "attempts": 0}
WORKFLOW = {"id": "wf_000000000001", "name": "site", "plan_summary": "Make a site"}
DEFAULT_OPTIONS = RunOptions()


def launch(tmp_path: Path, options: RunOptions = DEFAULT_OPTIONS) -> Launch:
    return Launch(TASK, WORKFLOW, "ag_000000000001", str(tmp_path / "w.db"), str(tmp_path), tmp_path, options)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").exists() and "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_mcp_config_starts_caw_server_on_the_same_database(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", "/data/w.db")
    command, *args = caw_command()
    assert json.loads(path.read_text()) == {"mcpServers": {"caw": {
        "type": "stdio", "command": command, "args": [*args, "--db", "/data/w.db", "--server"],
        "env": {"CAW_DB_PATH": "/data/w.db"},
    }}}
    assert Path(command).name == "caw" and Path(command).exists()


def test_claude_code_command_line(tmp_path: Path) -> None:
    run = launch(tmp_path, RunOptions(model="claude-sonnet-4-5", permission_mode="acceptEdits", max_turns=7,
                                      max_budget_usd=1.5))
    config = tmp_path / "c.json"
    assert ClaudeCodeRuntime().command(run, config) == [
        "claude", "-p", task_prompt(run), "--append-system-prompt", system_prompt(run), "--mcp-config", str(config),
        "--output-format", "stream-json", "--verbose", "--no-session-persistence", "--permission-mode", "acceptEdits",
        "--max-turns", "7", "--model", "claude-sonnet-4-5", "--max-budget-usd", "1.5",
    ]
    defaults = ClaudeCodeRuntime(executable="/opt/claude", extra_args=["--debug"]).command(launch(tmp_path), config)
    assert defaults[0] == "/opt/claude" and defaults[-1] == "--debug"
    assert defaults[defaults.index("--permission-mode") + 1] == "bypassPermissions"
    assert "--model" not in defaults and "--max-budget-usd" not in defaults and "--worktree" not in defaults
    isolated = ClaudeCodeRuntime().command(launch(tmp_path, RunOptions(ephemeral_worktree=True)), config)
    assert isolated[-1] == "--worktree"
    assert "task ID is tk_000000000001" in task_prompt(run) and "agent ID is ag_000000000001" in task_prompt(run)
    assert "Do not call agent_register" in system_prompt(run) and "Build it" in system_prompt(run)


def test_claude_code_environment_drops_nesting_markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDECODE", "1")
    monkeypatch.setenv("CLAUDE_CODE_ENTRYPOINT", "cli")
    env = ClaudeCodeRuntime().environment(launch(tmp_path), tmp_path / "c.json")
    assert "CLAUDECODE" not in env and "CLAUDE_CODE_ENTRYPOINT" not in env
    assert env["CAW_TASK_ID"] == TASK["id"] and env["CAW_MCP_CONFIG"] == str(tmp_path / "c.json")


def test_codex_command_line_configures_caw_as_its_mcp_server(tmp_path: Path) -> None:
    run = launch(tmp_path, RunOptions(model="gpt-5-codex", permission_mode="acceptEdits"))
    argv = CodexRuntime().command(run, tmp_path / "unused.json")
    entry = server_entry(run.db)
    assert argv[:9] == ["codex", "exec", "--json", "--skip-git-repo-check", "--cd", str(tmp_path), "--model",
                        "gpt-5-codex", "--full-auto"]
    assert argv[-1] == task_prompt(run)
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    parsed = {k: tomllib.loads(f"v = {v}")["v"] for k, _, v in (o.partition("=") for o in overrides)}
    assert parsed == {
        "mcp_servers.caw.command": entry["command"], "mcp_servers.caw.args": entry["args"],
        "mcp_servers.caw.env": entry["env"], "developer_instructions": system_prompt(run),
    }
    bypass = CodexRuntime().command(launch(tmp_path), tmp_path / "unused.json")
    assert "--dangerously-bypass-approvals-and-sandbox" in bypass and "--model" not in bypass


@pytest.mark.parametrize("runtime", [ClaudeCodeRuntime(), CodexRuntime(), SubprocessRuntime(["no-such-agent-cli"])])
def test_missing_executable_is_named(runtime: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CawError) as refused:
        runtime.check()
    assert refused.value.code == "RUNTIME_UNAVAILABLE"
    assert f"`{runtime.argv[0]}`" in refused.value.message


def test_executor_refuses_a_missing_cli_before_writing(client: caw_lab.Client, db_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    monkeypatch.setenv("PATH", str(tmp_path))
    before = dump(client.db)
    with pytest.raises(CawError, match="`claude`"):
        Executor(str(db_path), wf["id"], connect=caw_lab.connect).run()
    assert dump(client.db) == before


SCRIPT = """
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("CAW_")}
json.dump({"argv": sys.argv[2:], "env": env, "cwd": os.getcwd(),
           "config": json.load(open(env["CAW_MCP_CONFIG"]))}, open(sys.argv[1], "w"))
print("bye"); sys.exit(3)
"""


def test_subprocess_fills_placeholders_and_environment(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    runtime = SubprocessRuntime([sys.executable, "-c", SCRIPT, str(out), "{task_id}", "{agent_id}", "{db}",
                                 "--config={mcp_config}", "{unknown}"], env={"EXTRA": "1"})
    handle = runtime.start(launch(tmp_path))
    ended = handle.wait(30)
    assert ended is not None and ended.code == 3 and "exited with code 3" in ended.error and "bye" in ended.error
    seen = json.loads(out.read_text())
    config = tmp_path / "ag_000000000001.mcp.json"
    assert seen["argv"] == [TASK["id"], "ag_000000000001", str(tmp_path / "w.db"), f"--config={config}", "{unknown}"]
    added = {k: v for k, v in seen["env"].items() if os.environ.get(k) != v}  # CAW_HOME and such are inherited
    assert added == {"CAW_TASK_ID": TASK["id"], "CAW_WORKFLOW_ID": WORKFLOW["id"],
                           "CAW_AGENT_ID": "ag_000000000001", "CAW_DB_PATH": str(tmp_path / "w.db"),
                           "CAW_MCP_CONFIG": str(config)}
    assert seen["config"]["mcpServers"]["caw"]["args"][-3:] == ["--db", str(tmp_path / "w.db"), "--server"]
    assert not config.exists(), "the MCP config is removed once the agent ended"


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    runtime = SubprocessRuntime(["sh", "-c", f"sleep 60 & echo $! > {tmp_path}/child; wait"])
    handle = runtime.start(launch(tmp_path))
    deadline = time.monotonic() + 20
    while not (tmp_path / "child").exists() or not (tmp_path / "child").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child = int((tmp_path / "child").read_text())
    assert handle.poll() is None
    ended = handle.stop(grace_s=2)
    assert ended.code < 0 and "killed by SIGTERM" in ended.error
    deadline = time.monotonic() + 5
    while not (gone(handle.pid) and gone(child)):
        assert time.monotonic() < deadline, "an agent process outlived stop()"
        time.sleep(0.05)


def test_python_runtime_in_a_process(client: caw_lab.Client, db_path: Path, tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "solo"}])
    task_id = wf["tasks"]["solo"]
    agent = client.call("agent_register", name="p", runtime="custom", workflow_id=wf["id"])
    assert client.call("task_claim", task_id=task_id, agent_id=agent["id"])["success"]
    task = client.call("task_get", id=task_id)
    run = Launch(task, client.call("workflow_get", id=wf["id"]), agent["id"], str(db_path), str(tmp_path), tmp_path,
                 connect=caw_lab.connect)
    handle = PythonRuntime("runtime_work:steady", mode="process").start(run)
    assert handle.pid and handle.pid != os.getpid()
    assert handle.wait(60) is not None
    done = client.call("task_get", id=task_id)
    assert done["status"] == "completed" and done["outcome"] == f"solo done by pid {handle.pid}"


def test_python_runtime_refuses_what_it_cannot_import() -> None:
    with pytest.raises(CawError, match=r"no attribute .no_such_function"):
        PythonRuntime("runtime_work:no_such_function")
    with pytest.raises(CawError, match="mode"):
        PythonRuntime("runtime_work:steady", mode="fiber")  # type: ignore[arg-type]


def test_registry_knows_the_builtins_and_refuses_unknown_names() -> None:
    assert {"python", "subprocess", "claude_code", "codex"} <= set(registry.names())
    with pytest.raises(CawError) as unknown:
        registry.create("smoke-signals")
    assert unknown.value.code == "UNKNOWN_RUNTIME" and "claude_code" in unknown.value.suggestion
    with pytest.raises(CawError) as bad:
        registry.create("subprocess", {"comand": ["x"]})
    assert bad.value.code == "INVALID_CONFIG"


PLUGIN = '''
from caw_lab.runtimes import PythonRuntime


class EchoRuntime(PythonRuntime):
    name = "echo"

    def __init__(self, greeting: str = "hello") -> None:
        super().__init__(lambda task, ctx: f"{greeting} from {task['name']}")
'''


def test_third_party_runtime_from_an_entry_point(client: caw_lab.Client, db_path: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "caw_echo_runtime.py").write_text(PLUGIN)
    info = tmp_path / "caw_echo_runtime-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: caw-echo-runtime\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[caw_lab.runtimes]\necho = caw_echo_runtime:EchoRuntime\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "echo" in registry.names()
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "echo", "runtimes": {"echo": {"greeting": "hi"}}, "poll_interval_ms": 20}})
    assert Executor(str(db_path), wf["id"], connect=caw_lab.connect).run().status == "completed"
    tasks = client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
    assert [t["outcome"] for t in tasks] == ["hi from a", "hi from b"]


@pytest.mark.parametrize("runtime", ["claude_code", "codex"])
def test_llm_runtime_drives_a_stand_in_cli_over_mcp(runtime: str, client: caw_lab.Client, db_path: Path,
                                                   allowed_roots: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_with(install(tmp_path)))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "standin.json"))
    monkeypatch.setenv("CLAUDECODE", "1")
    wf = make_workflow(client, [{"name": "only"}])
    overrides = {"runtime": runtime, "model": "m-1", "max_turns": 3, "cwd": str(tmp_path), "poll_interval_ms": 50}
    outcome = Executor(str(db_path), wf["id"], overrides=overrides, connect=caw_lab.connect).run()
    assert outcome.status == "completed", outcome
    task = client.call("task_get", id=wf["tasks"]["only"], include_checkpoints=True)
    assert json.loads(task["outcome"])["attempt"] == 1
    assert [c["summary"] for c in task["checkpoints"]] == ["prepare done", "change done", "verify done"]
    seen = json.loads((tmp_path / "standin.json").read_text())
    assert seen["cwd"] == str(tmp_path) and seen["env"]["CAW_TASK_ID"] == task["id"]
    argv = seen["argv"][1:]
    if runtime == "claude_code":
        assert argv[:2] == ["-p", argv[1]] and task["id"] in argv[1]
        assert argv[argv.index("--model") + 1] == "m-1" and argv[argv.index("--max-turns") + 1] == "3"
        assert seen["env"]["CLAUDECODE"] is None
    else:
        assert argv[:2] == ["exec", "--json"] and argv[argv.index("--model") + 1] == "m-1"
        assert "--dangerously-bypass-approvals-and-sandbox" in argv


@pytest.mark.parametrize("runtimes", [
    {"subprocess": {"command": ["sh", "-c", "id"]}}, {"subprocess": {"command": "sh -c id"}},
    {"claude_code": {"executable": "/tmp/x"}}, {"codex": {"extra_args": ["--x"]}},
    {"echo": {"env": {"LD_PRELOAD": "/tmp/x.so"}}}, {"python": {"work": "os:system", "mode": "thread"}},
])
def test_a_workflow_config_naming_what_runs_is_refused_and_changes_nothing(client: caw_lab.Client,
                                                                           runtimes: dict[str, Any]) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"runtimes": {"python": {"mode": "process"}}}})
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("workflow_set_config", id=wf["id"], config={"execution": {"runtime": "python",
                                                                              "runtimes": runtimes}})
    assert refused.value.code == "COMMAND_NOT_ALLOWED" and ".caw/runtimes.toml" in refused.value.suggestion
    assert dump(client.db) == before


def test_the_local_runtime_config_names_what_runs_over_the_workflows_options(
    db_path: Path, client: caw_lab.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".caw").mkdir()
    (repo / ".caw" / "runtimes.toml").write_text('[python]\nwork = "runtime_work:steady"\n')
    monkeypatch.setenv("CAW_REPO_PATH", str(repo / "deep" / "inside"))
    monkeypatch.delenv("CAW_RUNTIMES", raising=False)
    assert local_config.config_path() == repo / ".caw" / "runtimes.toml"
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "python", "runtimes": {"python": {"mode": "process"}}, "poll_interval_ms": 20}})
    executor = Executor(str(db_path), wf["id"], connect=caw_lab.connect)
    python = executor.runtime("python")
    assert isinstance(python, PythonRuntime) and python.mode == "process" and python.work.__name__ == "steady"
    assert executor.run().status == "completed"


@pytest.mark.parametrize(("text", "why"), [
    ("[python\nwork = 1", "not valid TOML"), ('subprocess = "sh -c id"', "should be tables"), (b"\xff", "utf-8"),
])
def test_a_broken_local_runtime_config_is_refused_before_anything_is_written(
    client: caw_lab.Client, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | bytes,
    why: str,
) -> None:
    config = tmp_path / "runtimes.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.setenv("CAW_RUNTIMES", str(config))
    wf = make_workflow(client, [{"name": "a"}])
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("workflow_start", workflow_id=wf["id"], runtime="python")
    assert refused.value.code == "INVALID_CONFIG" and why in refused.value.message
    assert str(config) in refused.value.message
    assert dump(client.db) == before


def test_stop_kills_what_ignores_sigterm_and_what_left_the_group(tmp_path: Path) -> None:
    script = ("import os, signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "hidden = subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(60)'])\n"
              f"open({str(tmp_path / 'hidden')!r}, 'w').write(str(hidden.pid))\n"
              "time.sleep(60)\n")
    handle = SubprocessRuntime([sys.executable, "-c", script]).start(launch(tmp_path))
    hidden = tmp_path / "hidden"
    deadline = time.monotonic() + 20
    while not hidden.exists() or not hidden.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ended = handle.stop(grace_s=0.5)
    assert ended.code < 0 and "killed by SIGKILL" in ended.error
    deadline = time.monotonic() + 5
    while not (gone(handle.pid) and gone(int(hidden.read_text()))):
        assert time.monotonic() < deadline, "a process that ignored SIGTERM or left the group outlived stop()"
        time.sleep(0.05)


def test_agent_environment_withholds_secrets_but_what_is_passed_on_purpose() -> None:
    environ = {"PATH": "/bin", "HOME": "/h", "LANG": "C", "KEYBOARD": "us", "CAW_PASS_ENV": "HF_*",
               "GH_TOKEN": "t", "STRIPE_KEY": "k", "npm_config__auth": "a", "SSH_AUTH_SOCK": "/s",
               "HTTPS_PROXY": "http://me:pw@proxy:3128", "NO_PROXY": "localhost", "HF_TOKEN": "h",
               "CAW_D1_TOKEN": "d", "CAW_D1_API": "http://127.0.0.1:1/client/v4", "ANTHROPIC_API_KEY": "sk"}
    kept = inherited("/data/w.db", [], environ)
    assert set(kept) == {"PATH", "HOME", "LANG", "KEYBOARD", "CAW_PASS_ENV", "NO_PROXY", "HF_TOKEN", "CAW_D1_API"}
    assert {"CAW_D1_TOKEN", "ANTHROPIC_API_KEY"} <= set(inherited("d1://acct/db", ClaudeCodeRuntime.credentials,
                                                                  environ))
