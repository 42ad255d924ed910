"""The ``caw`` console script, run as a user runs it: a real subprocess on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CAW = str(Path(sys.executable).with_name("caw"))


def caw(*args: str, db: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["--db", str(db)] if db else []
    return subprocess.run(
        [CAW, *prefix, *args], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )


def call(db: Path, tool: str, **params: Any) -> Any:
    done = caw("call", tool, "--json", json.dumps(params), db=db)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def planned(db_path: Path) -> dict[str, Any]:
    wf = call(db_path, "workflow_create", name="ship it", source_type="prompt", source_content="do it")
    plan = {"summary": "three steps", "tasks": [
        {"name": "design"}, {"name": "build", "depends_on": ["design"]}, {"name": "docs", "depends_on": ["design"]},
    ]}
    call(db_path, "workflow_set_plan", id=wf["id"], plan=plan)
    return wf


def test_init_creates_the_database_and_prints_its_path(db_path: Path) -> None:
    done = caw("init", db=db_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(db_path)
    assert db_path.exists()


def test_call_prints_the_tool_result_as_json(db_path: Path) -> None:
    wf = call(db_path, "workflow_create", name="demo", source_type="prompt", source_content="x")
    assert wf["id"].startswith("wf_") and wf["status"] == "planning"
    assert call(db_path, "workflow_get", id=wf["id"])["name"] == "demo"


def test_call_reads_arguments_from_stdin(db_path: Path) -> None:
    done = caw("call", "workflow_create", "--json", "-", db=db_path,
               stdin=json.dumps({"name": "piped", "source_type": "prompt", "source_content": "x"}))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "piped"


@pytest.mark.parametrize(("args", "code"), [
    (["call", "workflow_get", "--json", '{"id": "wf_missing"}'], "WORKFLOW_NOT_FOUND"),
    (["call", "no_such_tool"], "UNKNOWN_TOOL"),
    (["call", "workflow_create", "--json", '{"name": "x"}'], "INVALID_INPUT"),
    (["call", "workflow_get", "--json", "{not json"], "INVALID_INPUT"),
    (["call", "workflow_get", "--json", "[1, 2]"], "INVALID_INPUT"),
    (["call", "workflow_start", "--json", '{"workflow_id": "wf_x"}'], "WORKFLOW_NOT_FOUND"),
    (["show", "wf_missing"], "WORKFLOW_NOT_FOUND"),
])
def test_refusals_exit_1_with_the_error_json_on_stderr(db_path: Path, args: list[str], code: str) -> None:
    done = caw(*args, db=db_path)
    assert done.returncode == 1
    assert done.stdout == ""
    error = json.loads(done.stderr)
    assert error["code"] == code
    assert error["message"] and error["suggestion"] and isinstance(error["recoverable"], bool)


def test_workflows_lists_id_name_status_and_progress(db_path: Path, planned: dict[str, Any]) -> None:
    call(db_path, "workflow_create", name="second", source_type="prompt", source_content="y")
    lines = caw("workflows", db=db_path).stdout.splitlines()
    assert lines[0].split() == ["id", "name", "status", "done/total"]
    row = next(line for line in lines if line.startswith(planned["id"]))
    assert row.split()[-2:] == ["ready", "0/3"] and "ship it" in row
    assert len(lines) == 4


def test_workflows_filters_by_status_and_prints_json(db_path: Path, planned: dict[str, Any]) -> None:
    call(db_path, "workflow_create", name="second", source_type="prompt", source_content="y")
    result = json.loads(caw("workflows", "--status", "planning", "--json", db=db_path).stdout)
    assert [w["name"] for w in result["workflows"]] == ["second"]


def test_show_lists_tasks_with_computed_blocked_and_dependencies(db_path: Path, planned: dict[str, Any]) -> None:
    done = caw("show", planned["id"], db=db_path)
    assert done.returncode == 0, done.stderr
    assert "status: ready" in done.stdout and "0/3 done" in done.stdout
    rows = {line.split()[2]: line.split()[3:] for line in done.stdout.splitlines() if line[:1].isdigit()}
    assert rows == {"design": ["pending"], "build": ["blocked", "design"], "docs": ["blocked", "design"]}


def test_show_json_carries_tasks(db_path: Path, planned: dict[str, Any]) -> None:
    shown = json.loads(caw("show", planned["id"], "--json", db=db_path).stdout)
    assert [t["status"] for t in shown["tasks"]] == ["pending", "blocked", "blocked"]


def test_tools_json_lists_every_registered_tool_with_its_schema() -> None:
    from caw_lab.tools import load_all

    listing = json.loads(caw("tools", "--json").stdout)
    assert [t["name"] for t in listing] == sorted(load_all())
    create = next(t for t in listing if t["name"] == "workflow_create")
    assert create["description"]
    assert set(create["inputSchema"]["required"]) == {"name", "source_type", "source_content"}
    assert json.loads(caw("tools", "--format", "json").stdout) == listing


def test_tools_text_shows_descriptions_and_parameters() -> None:
    out = caw("tools").stdout
    assert "workflow_create\n  Create a workflow" in out
    assert "  - source_type: prompt|github_issue|linear|jira|custom, required" in out
    assert "  - limit: integer (default 20; >= 1; <= 1000)" in out


def test_db_option_beats_the_environment(tmp_path: Path) -> None:
    done = caw("--db", str(tmp_path / "flag.db"), "init", env={"CAW_DB_PATH": str(tmp_path / "env.db")})
    assert done.stdout.strip() == str(tmp_path / "flag.db")


def test_no_command_prints_help() -> None:
    done = caw()
    assert done.returncode == 0
    assert "Usage: caw" in done.stdout and "--server" in done.stdout


def test_server_refuses_a_public_bind_without_a_token(tmp_path: Path) -> None:
    done = caw("--server", "--transport", "http", "--host", "0.0.0.0", db=tmp_path / "w.db", env={"CAW_TOKEN": ""})
    assert done.returncode == 2
    assert "--token" in done.stderr


def test_tools_openai_format_gives_function_definitions() -> None:
    from caw_lab.tools import load_all

    done = caw("tools", "--format", "openai")
    assert done.returncode == 0, done.stderr
    definitions = json.loads(done.stdout)
    assert {d["function"]["name"] for d in definitions} == set(load_all())
    assert all(d["type"] == "function" for d in definitions)


def test_call_field_prints_one_field_for_scripts(db_path: Path) -> None:
    done = caw("call", "workflow_create", "--field", "id", "--json",
               '{"name": "x", "source_type": "prompt", "source_content": "x"}', db=db_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("wf_") and "\"" not in done.stdout
    missing = caw("call", "workflow_list", "--field", "nope", db=db_path)
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_init_yes_ignores_the_database_in_git_and_sets_up_claude_code(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("node_modules")
    clean = {"CAW_DB_PATH": "", "CAW_DB_MODE": ""}
    done = caw("init", "--yes", cwd=tmp_path, env=clean)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".caw" / "workflows.db").exists()
    assert (tmp_path / ".gitignore").read_text() == "node_modules\n.caw/\n"
    assert json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["caw"]["args"][-1] == "--server"
    assert "agent_register" in (tmp_path / "CLAUDE.md").read_text()
    again = caw("init", "-y", cwd=tmp_path, env=clean)
    assert again.returncode == 0 and "updated" not in again.stdout and ".gitignore" not in again.stdout
    assert (tmp_path / ".gitignore").read_text().count(".caw/") == 1


def test_init_global_uses_the_home_database_and_tells_the_client(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir(parents=True)
    done = caw("init", "--global", "--yes", cwd=project, env={"HOME": str(home), "CAW_DB_PATH": "", "CAW_DB_MODE": ""})
    assert done.returncode == 0, done.stderr
    database = home / ".caw" / "workflows.db"
    assert done.stdout.splitlines()[0] == str(database) and database.exists()
    assert not (project / ".caw").exists() and not (project / ".gitignore").exists()
    args = json.loads((project / ".mcp.json").read_text())["mcpServers"]["caw"]["args"]
    assert args[-3:] == ["--db", str(database), "--server"]


def test_init_without_a_terminal_only_creates_the_database(tmp_path: Path) -> None:
    done = caw("init", cwd=tmp_path, env={"CAW_DB_PATH": "", "CAW_DB_MODE": ""}, stdin="")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".caw"]
