"""The command line as the reference has it (``caw --list-templates``, ``caw --template NAME
"name"``, run as a real process inside a repository) and the ``caw templates`` group (run
in-process by click's runner, which is cheaper on a busy machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import caw_lab
from caw_lab.cli import main
from tests.test_templates_sources import git_repo, write

CAW = str(Path(sys.executable).with_name("caw"))


@pytest.fixture
def repo(tmp_path: Path, allowed_roots: Path) -> Path:
    path = git_repo(tmp_path / "project")
    write(
        path / ".caw" / "templates",
        "feature.yaml",
        {
            "name": "feature",
            "version": "2.0.0",
            "description": "Our feature flow",
            "variables": [{"name": "feature", "default": "it"}],
            "tasks": [
                {"name": "Spec {{ feature }}"},
                {"name": "Build {{ feature }}", "depends_on": ["Spec {{ feature }}"]},
            ],
        },
    )
    return path


def caw(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAW_REPO_PATH", "CAW_DB_PATH", "CAW_DB_MODE")}
    return subprocess.run(
        [CAW, *args],
        cwd=repo / "src" if (repo / "src").exists() else repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run(repo: Path, *args: str) -> Result:
    """``caw --db ... ARGS`` in this process, reading ``repo``'s templates."""
    return CliRunner(env={"CAW_REPO_PATH": str(repo)}).invoke(main, ["--db", str(repo / "w.db"), *args])


def test_list_templates_inside_a_repository(repo: Path) -> None:
    listed = caw(repo, "--list-templates")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.startswith("feature "))
    assert "2.0.0" in line and "file:repo" in line and "file:repo:feature" in line
    assert "builtin:bugfix" in listed.stdout


def test_template_shortcut_creates_the_workflow_in_the_repository_database(repo: Path) -> None:
    (repo / "src").mkdir()
    done = caw(repo, "--template", "feature", "Add export")
    assert done.returncode == 0, done.stderr
    workflow_id = done.stdout.strip()
    with caw_lab.connect(repo / ".caw" / "workflows.db") as client:
        workflow = client.call("workflow_get", id=workflow_id, include_tasks=True)
    assert (workflow["name"], workflow["source_ref"], workflow["template_version"]) == (
        "Add export",
        "file:repo:feature",
        "2.0.0",
    )
    assert [t["name"] for t in workflow["tasks"]] == ["Spec it", "Build it"]
    typed = caw(repo, "--template", "bugfix", "--var", "bug=crash", "--var", "severity=high", "Fix", "crash")
    assert typed.returncode == 0, typed.stderr
    with caw_lab.connect(repo / ".caw" / "workflows.db") as client:
        assert client.call("workflow_get", id=typed.stdout.strip())["name"] == "Fix crash"


def test_template_shortcut_errors(repo: Path) -> None:
    missing_name = run(repo, "--template", "feature")
    assert missing_name.exit_code == 2 and "needs the new workflow's name" in missing_name.stderr
    unknown = run(repo, "--template", "nope", "x")
    assert unknown.exit_code == 1 and json.loads(unknown.stderr)["code"] == "TEMPLATE_NOT_FOUND"
    bad = run(repo, "--template", "bugfix", "--var", "severity=dire", "x")
    error = json.loads(bad.stderr)
    assert error["code"] == "MISSING_VARIABLES" and "bug is required" in error["details"]["problems"]
    assert "severity must be one of" in error["message"]


def test_the_templates_group(repo: Path) -> None:
    assert "(shadows) feature" in run(repo, "templates", "list", "--all").stdout
    assert json.loads(run(repo, "templates", "list", "--json").stdout)["warnings"] == []
    versions = run(repo, "templates", "versions", "feature").stdout
    assert "2.0.0 *" in versions and "1.0.0" in versions
    diff = run(repo, "templates", "diff", "feature", "1.0.0", "2.0.0").stdout
    assert diff.startswith("feature 1.0.0 -> 2.0.0") and "+ task 'Spec {{ feature }}'" in diff
    assert json.loads(run(repo, "templates", "diff", "feature", "1", "2", "--json").stdout)["tasks"]["added"]
    applied = run(repo, "templates", "apply", "feature@^1", "Old flow", "--var", "feature=search")
    assert applied.exit_code == 0 and applied.stdout.startswith("wf_")
    shown = json.loads(run(repo, "templates", "show", "feature@1").stdout)
    assert shown["source"] == "builtin"
    bad_var = run(repo, "templates", "apply", "feature", "x", "--var", "novalue")
    assert bad_var.exit_code == 1 and "NAME=VALUE" in bad_var.stderr
