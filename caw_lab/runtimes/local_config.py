"""The local runtime config: what agents run, as the local user chose it, in a file of theirs.

DESIGN.md invariant 9. The options that name a program (``engine.commands.COMMAND_OPTIONS``:
a ``command``, an ``executable`` and its ``extra_args``, an ``env``, a python ``work``) are
refused in a workflow's config, which any client can write; the executor takes them from
here, or from runtime objects handed to it in Python. The file is TOML, one table per
runtime, its options laid over the workflow's for that runtime::

    [subprocess]
    command = ["python", "agent.py", "{task_id}"]

    [python]
    work = "my_agents:work"
    mode = "process"

It is ``.caw/runtimes.toml`` in the repository, found as the per-repo database is (the root
of the git repository holding ``CAW_REPO_PATH`` or the working directory), or the file
``CAW_RUNTIMES`` names; read by the process that runs the executor (``caw run``, the
``caw --server`` a ``workflow_start`` reached, a notebook's kernel) when a run starts.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from caw_lab.engine.commands import LOCAL_CONFIG
from caw_lab.errors import CawError
from caw_lab.store.location import repo_root

LocalOptions = dict[str, dict[str, Any]]


def config_path() -> Path:
    if named := os.environ.get("CAW_RUNTIMES"):
        return Path(named)
    start = Path(os.environ.get("CAW_REPO_PATH") or os.getcwd()).resolve()
    return repo_root(start) / LOCAL_CONFIG


def load(path: Path | None = None) -> LocalOptions:
    """Options per runtime name; empty when there is no file, a CawError when it cannot be used."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise bad_file(path, str(exc)) from None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad_file(path, f"it is not valid TOML ({exc})") from None
    if strays := sorted(name for name, options in parsed.items() if not isinstance(options, dict)):
        raise bad_file(path, f"{', '.join(strays)} should be tables, one per runtime ([subprocess], [python], ...)")
    return parsed


def bad_file(path: Path, why: str) -> CawError:
    return CawError(
        "INVALID_CONFIG",
        f"Cannot read the local runtime config {path}: {why}",
        recoverable=True,
        suggestion='Fix the file: one TOML table per runtime, e.g. [subprocess] command = ["..."].',
    )


def options_for(name: str, workflow_options: Mapping[str, Any] | None, local: LocalOptions) -> dict[str, Any]:
    """What runtime ``name`` is built with: the workflow's options, the local config's laid over them."""
    return {**(workflow_options or {}), **local.get(name, {})}
