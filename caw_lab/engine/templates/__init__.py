"""Workflow templates: reusable plans with typed ``{{ variables }}``, from files, the
database and registries, versioned, composable, applied as new ready workflows.

The modules, each one idea:

``document``     reading a template file or definition safely, and its schema
``variables``    typed variables: what each type accepts, every problem at once
``interpolation`` `{{ }}` rendered in a sandbox that cannot reach Python's internals
``versions``     semantic versions and ranges (``NAME@^1.2``)
``sources``      builtin, repository, user and database templates, and precedence
``composition``  ``extends``: merging a template with its parents
``database``     templates saved in the database, versions immutable once published
``apply``        a template made into a workflow
``diff``         what changed between two versions
``registry``     static JSON indexes over HTTP: search, install, publish
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.templates import composition
from caw_lab.engine.templates.apply import apply
from caw_lab.engine.templates.database import create, from_workflow, publish
from caw_lab.engine.templates.diff import diff
from caw_lab.engine.templates.sources import catalogue
from caw_lab.engine.templates.versions import key, parse_ref
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend


def list_templates(db: Backend, repository_path: str | None = None) -> dict[str, Any]:
    """Each name's winning template, what it shadows, and the files that could not be read."""
    return catalogue(db, repository_path).listing()


def get(
    db: Backend,
    template_id: str,
    *,
    version: str | None = None,
    resolved: bool = False,
    repository_path: str | None = None,
) -> dict[str, Any]:
    found = catalogue(db, repository_path)
    template = found.lookup(template_id, version)
    return composition.resolve(found, template).to_dict() if resolved else template.to_dict()


def versions(db: Backend, name: str, repository_path: str | None = None) -> dict[str, Any]:
    """Every version of ``name`` in every source, newest first, and which one a bare name picks."""
    found = catalogue(db, repository_path)
    candidates = found.named(parse_ref(name)[0])
    if not candidates:
        found.lookup(name)  # raises TEMPLATE_NOT_FOUND naming the known templates
    winner = found.winner(candidates)
    ordered = sorted(candidates, key=lambda t: key(t.version), reverse=True)
    return {
        "name": parse_ref(name)[0],
        "versions": [
            {**t.brief(), "description": t.description, "created_at": t.created_at, "default": t is winner}
            for t in ordered
        ],
    }


def compare(
    db: Backend, name: str, from_version: str, to_version: str, repository_path: str | None = None
) -> dict[str, Any]:
    """The resolved templates ``name@from_version`` and ``name@to_version`` compared."""
    found = catalogue(db, repository_path)
    if from_version.strip() == "" or to_version.strip() == "":
        raise CawError(
            "INVALID_INPUT",
            "Give both versions to compare",
            recoverable=True,
            suggestion="List them with template_versions.",
        )
    old, new = (composition.resolve(found, found.lookup(name, v)) for v in (from_version, to_version))
    return diff(old, new)


__all__ = ["apply", "catalogue", "compare", "create", "from_workflow", "get", "list_templates", "publish", "versions"]
