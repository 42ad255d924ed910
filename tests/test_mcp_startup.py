"""``caw --server`` starts without the libraries only some tools need (bench/mcp.py times it).

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import caw_lab
from caw_lab.cli import YOUNG_GENERATION

HEAVY = ("sklearn", "scipy", "numpy", "tiktoken", "sqlite_utils", "caw_lab.context.loader", "caw_lab.runtimes")

SERVE_WITHOUT_CONTEXT = """
import json, sys
from caw_lab.cli import main
import caw_lab.mcp
from caw_lab.store import open_backend
from caw_lab.tools import call_tool

db = open_backend(sys.argv[1])
caw_lab.mcp.build_server(db)
wf = call_tool(db, "workflow_create", {"name": "w", "source_type": "prompt", "source_content": "x"})
call_tool(db, "workflow_set_plan", {"id": wf["id"], "plan": {"summary": "s", "tasks": [{"name": "a"}]}})
call_tool(db, "workflow_next_tasks", {"workflow_id": wf["id"]})
print(json.dumps(sorted(sys.modules)))
"""


def fresh_python(script: str, *args: str) -> str:
    """What ``script`` prints when run with ``args`` in a new interpreter, which must succeed."""
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def is_heavy(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in HEAVY)


def test_serving_workflow_tools_loads_no_heavy_library(db_path: Path) -> None:
    loaded = json.loads(fresh_python(SERVE_WITHOUT_CONTEXT, str(db_path)))
    assert [name for name in loaded if is_heavy(name)] == []


def test_sqlite_utils_view_is_built_on_first_use_on_the_same_connection(db_path: Path) -> None:
    with caw_lab.connect(db_path) as client:
        assert "db" not in vars(client.db)
        assert "tasks" in client.db.db.table_names()
        assert client.db.db.conn is client.db.conn


BUILD_SERVER = """
import json, sys
import caw_lab.mcp
from caw_lab.store import open_backend

before = set(sys.modules)
caw_lab.mcp.build_server(open_backend(sys.argv[1]))
built = set(sys.modules)
from mcp import Client
from mcp.server import MCPServer
from caw_lab.tools import call_tool

wf = call_tool(open_backend(sys.argv[1]), "workflow_create", {"name": "w", "source_type": "prompt",
                                                             "source_content": "x"})
print(json.dumps({"before": sorted(before), "built": sorted(built), "client": Client.__module__,
                  "high_level": MCPServer.__name__, "created": wf["status"]}))
"""


def test_a_server_starts_without_the_sdk_client_or_its_own_tools_and_both_come_when_asked(db_path: Path) -> None:
    seen = json.loads(fresh_python(BUILD_SERVER, str(db_path)))
    assert "mcp.server.lowlevel.server" in seen["before"]
    for module in ("mcp.client", "mcp.server.mcpserver", "caw_lab.tools.workflow", "caw_lab.mcp.http"):
        assert module not in seen["built"], f"{module} was imported to start a server"
    assert seen["client"] == "mcp.client.client" and seen["high_level"] == "MCPServer"
    assert seen["created"] == "planning", "a tool called before any listing is found"


SPANS = """
import sys
from opentelemetry import trace
import caw_lab.mcp
from caw_lab.store import open_backend

if sys.argv[2] == "installed":
    trace.set_tracer_provider(trace.NoOpTracerProvider())
print(len(caw_lab.mcp.build_server(open_backend(sys.argv[1])).middleware))
"""


def test_the_sdks_span_per_message_is_made_only_when_a_tracer_provider_is_installed(db_path: Path) -> None:
    assert fresh_python(SPANS, str(db_path), "none").strip() == "0"
    assert fresh_python(SPANS, str(db_path), "installed").strip() == "1"


def test_the_server_is_imported_without_collecting_and_its_objects_are_frozen_out_of_collections() -> None:
    script = ("import gc, sys\nfrom caw_lab.cli import import_server\nimport_server()\n"
              "print(gc.isenabled(), gc.get_freeze_count() > 50_000, 'mcp_types' in sys.modules, "
              "gc.get_threshold()[0])")
    assert fresh_python(script).split() == ["True", "True", "True", str(YOUNG_GENERATION)]
