"""Stand-ins for the ``claude`` and ``codex`` CLIs, written into a test's folder and put first on PATH.

Each records its command line, environment and working directory to ``$STANDIN_LOG``,
then does what the real CLI would with the configuration it was given: starts the caw MCP
server it names (from ``--mcp-config`` for claude, from ``-c mcp_servers.caw.*`` for
codex), finds its task and agent ids in the prompt, and works the task over MCP with the
official SDK client (mcp_agent.work).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

COMMON = f'''#!{sys.executable}
import json, os, re, sys, tomllib
from pathlib import Path
import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
sys.path.insert(0, {str(TESTS)!r})
from mcp_agent import work

ARGS = sys.argv[1:]
Path(os.environ["STANDIN_LOG"]).write_text(json.dumps({{
    "argv": sys.argv, "cwd": os.getcwd(),
    "env": {{k: os.environ.get(k) for k in ("CAW_TASK_ID", "CAW_AGENT_ID", "CAW_DB_PATH", "CLAUDECODE")}},
}}))

def ids(prompt):
    return re.search(r"task ID is (tk_[0-9a-z]+)", prompt)[1], re.search(r"agent ID is (ag_[0-9a-z]+)", prompt)[1]

async def serve(server, prompt):
    params = StdioServerParameters(command=server["command"], args=server["args"],
                                   env={{**os.environ, **server.get("env", {{}})}})
    task_id, agent_id = ids(prompt)
    async with Client(params) as client:
        await work(client, task_id, agent_id)
'''

CLAUDE = COMMON + '''
async def plan(server, prompt):
    """As a planner (caw run --prompt): one task per line of the request after "User request: "."""
    params = StdioServerParameters(command=server["command"], args=server["args"],
                                   env={**os.environ, **server.get("env", {})})
    workflow_id = re.search(r"workflow ID is (wf_[0-9a-z]+)", prompt)[1]
    names = prompt.split("User request: ", 1)[1].split()
    async with Client(params) as client:
        await client.call_tool("workflow_set_plan", {"id": workflow_id, "plan": {
            "summary": "planned by the stand-in", "tasks": [{"name": n} for n in names]}})

config = json.loads(Path(ARGS[ARGS.index("--mcp-config") + 1]).read_text())
PROMPT = ARGS[ARGS.index("-p") + 1]
anyio.run(plan if PROMPT.startswith("Plan this workflow") else serve, config["mcpServers"]["caw"], PROMPT)
'''

CODEX = COMMON + '''
assert ARGS[0] == "exec"
server = {}
for i, arg in enumerate(ARGS):
    if arg == "-c" and ARGS[i + 1].startswith("mcp_servers.caw."):
        key, _, value = ARGS[i + 1].removeprefix("mcp_servers.caw.").partition("=")
        server[key] = tomllib.loads("v = " + value)["v"]
anyio.run(serve, server, ARGS[-1])
'''


def install(folder: Path) -> Path:
    """Write both stand-ins into ``folder``/bin and return that directory."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("claude", CLAUDE), ("codex", CODEX)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return bin_dir


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
