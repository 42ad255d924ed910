"""Every tool and CLI command is documented, docs/ matches the code, and the README's tour runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from caw_lab.cli import main
from caw_lab.cli.docs import command_paths, context, generated, walk
from caw_lab.tools import load_all

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CAW = str(Path(sys.executable).with_name("caw"))
STALE = "is stale: run `make docs` and commit docs/"


@pytest.mark.parametrize("name", sorted(generated()))
def test_generated_reference_is_current(name: str) -> None:
    assert (DOCS / name).exists(), f"docs/{name} is missing: run `make docs`"
    assert (DOCS / name).read_text() == generated()[name], f"docs/{name} {STALE}"


@pytest.mark.parametrize("name", sorted(load_all()))
def test_every_tool_is_described_and_documented(name: str) -> None:
    spec = load_all()[name]
    assert spec.description.strip(), f"tool {name} has no description"
    assert f"### `{name}`" in (DOCS / "tools.md").read_text(), f"tool {name} missing from docs/tools.md: {STALE}"


@pytest.mark.parametrize("path", command_paths())
def test_every_cli_command_is_documented(path: str) -> None:
    assert f"## `{path}`" in (DOCS / "cli.md").read_text(), f"`{path}` missing from docs/cli.md: {STALE}"


@pytest.mark.parametrize(
    ("path", "command"), [(ctx.command_path, cmd) for cmd, ctx in walk(main, context(main, "caw"))]
)
def test_every_cli_command_and_option_has_help(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`{path}` has no help text"
    bare = [p.name for p in command.params if isinstance(p, click.Option) and not p.help and not p.hidden]
    assert not bare, f"`{path}` options without help: {bare}"


def test_docs_writes_the_reference_and_check_catches_an_edit(tmp_path: Path) -> None:
    subprocess.run([CAW, "docs", "--out", str(tmp_path)], check=True, capture_output=True)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == generated()
    with (tmp_path / "cli.md").open("a") as f:
        f.write("hand edit\n")
    stale = subprocess.run([CAW, "docs", "--out", str(tmp_path), "--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "cli.md" in stale.stderr and "make docs" in stale.stderr


def tour_blocks(language: str) -> list[str]:
    """The README's ``## Tour`` code blocks in ``language``, in order."""
    text = (ROOT / "README.md").read_text()
    tour = text.split("\n## Tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", tour, flags=re.S)


def test_readme_shell_tour_runs(tmp_path: Path) -> None:
    script = "\n".join(tour_blocks("bash"))
    assert "caw call" in script
    env = {**os.environ, "PATH": f"{Path(CAW).parent}{os.pathsep}{os.environ['PATH']}", "CAW_REPO_PATH": str(tmp_path)}
    env.pop("CAW_DB_PATH", None)
    env.pop("CAW_DB_MODE", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / ".caw" / "workflows.db").exists()


def test_readme_python_tour_runs(tmp_path: Path) -> None:
    code = "\n".join(tour_blocks("python"))
    assert "caw_lab.connect" in code
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
