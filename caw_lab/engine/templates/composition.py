"""Composition: a template that ``extends: NAME[@RANGE]`` is its parent with its own changes.

The chain is followed to its root (at most MAX_DEPTH templates) and merged from the root
down. A child overrides ``summary``, ``source`` and ``description``; its variables are
merged by name (it may tighten a type or change a default, never loosen a type); its tasks
are merged by name: a task of the parent's name overrides the fields it gives and *adds*
its ``depends_on``/``context_from``, ``remove: true`` drops the parent's task (and the
dependencies on it), any other task is added after the parent's.

A parent is looked up among every source like any name, except that the templates already
in the chain are skipped: a repository's ``bugfix`` may ``extends: bugfix`` to build on the
builtin one it shadows. When only the chain itself could satisfy an ``extends``, the
templates extend each other in a cycle, which is refused naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caw_lab.engine.plans import validate_plan
from caw_lab.engine.templates import document, interpolation, variables
from caw_lab.engine.templates.sources import Catalogue, Template
from caw_lab.engine.templates.versions import key, parse_range, parse_ref
from caw_lab.errors import CawError

MAX_DEPTH = 10
LINKS = ("depends_on", "context_from")


@dataclass(frozen=True)
class Resolved:
    """A template with its ancestors merged in: what applying it makes."""

    template: Template
    chain: list[Template]
    definition: dict[str, Any]
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.template.to_dict(),
            "description": self.description,
            "template": self.definition,
            "resolved": True,
            "chain": [{"name": t.name, **t.brief()} for t in self.chain],
        }


def resolve(catalogue: Catalogue, template: Template) -> Resolved:
    chain = ancestry(catalogue, template)
    merged: dict[str, Any] = {"tasks": [], "variables": []}
    for current in reversed(chain):
        merged = merge(merged, current)
    specs = [variables.complete(s) for s in merged["variables"]]
    declared = {s["name"] for s in specs}
    for where, text in document.interpolated_strings(merged):
        for name in sorted(interpolation.names(text, where) - declared):
            specs.append(variables.complete({"name": name}))
            declared.add(name)
    problems = variables.check_specs(specs)
    if problems:
        raise document.invalid(template.ref, problems)
    tasks = [{k: v for k, v in t.items() if k in document.TASK_FIELDS} for t in merged["tasks"]]
    if not tasks:
        raise document.invalid(template.ref, ["it has no tasks left once its parents are merged"])
    validate_plan(tasks)
    definition = {
        "tasks": tasks,
        "variables": specs,
        **{k: merged[k] for k in ("summary", "source") if merged.get(k) is not None},
    }
    description = next((t.description for t in chain if t.description is not None), None)
    return Resolved(template, chain, definition, description)


def ancestry(catalogue: Catalogue, template: Template) -> list[Template]:
    """The template, its parent, its parent's parent...: refuses cycles and depth past MAX_DEPTH."""
    chain = [template]
    while ref := chain[-1].document.get("extends"):
        if len(chain) >= MAX_DEPTH:
            raise document.invalid(template.ref, [f"extends goes more than {MAX_DEPTH} templates deep"])
        try:
            chain.append(catalogue.lookup(ref, exclude=frozenset((t.id, t.version) for t in chain)))
        except CawError as err:
            if err.code not in ("TEMPLATE_NOT_FOUND", "VERSION_NOT_FOUND"):
                raise
            if in_chain(chain, ref):
                cycle = [t.ref for t in chain] + [ref]
                raise CawError(
                    "TEMPLATE_CYCLE",
                    f"Templates extend each other in a cycle: {' -> '.join(cycle)}",
                    recoverable=True,
                    suggestion="Remove one `extends` on that cycle.",
                    details={"cycle": cycle},
                ) from None
            raise CawError(
                err.code, f"{chain[-1].ref} extends {ref}: {err.message}", err.recoverable, err.suggestion, err.details
            ) from None
    return chain


def in_chain(chain: list[Template], ref: str) -> bool:
    name, wanted = parse_ref(ref)
    spec = parse_range(wanted) if wanted else None
    return any(t.name == name and (spec is None or spec.match(key(t.version))) for t in chain)


def merge(parent: dict[str, Any], child: Template) -> dict[str, Any]:
    """The child's document over the (already merged) parent's."""
    doc = child.document
    problems: list[str] = []
    merged_vars = merge_variables(parent["variables"], doc.get("variables") or [], problems)
    merged_tasks = merge_tasks(parent["tasks"], doc.get("tasks") or [], problems)
    if problems:
        raise document.invalid(child.ref, problems)
    out = {**parent, "variables": merged_vars, "tasks": merged_tasks}
    out.update({k: doc[k] for k in ("summary", "source") if k in doc})
    return out


def merge_variables(parent: list[Any], child: list[Any], problems: list[str]) -> list[dict[str, Any]]:
    merged = {s["name"]: s for s in map(variables.spec_of, parent)}
    for spec in map(variables.spec_of, child):
        if spec["name"] in merged:
            merged[spec["name"]], refused = variables.tighten(merged[spec["name"]], spec)
            problems += refused
        else:
            merged[spec["name"]] = spec
    return list(merged.values())


def merge_tasks(parent: list[dict[str, Any]], child: list[dict[str, Any]], problems: list[str]) -> list[dict[str, Any]]:
    merged = {t["name"]: dict(t) for t in parent}
    removed: set[str] = set()
    for task in child:
        name = task["name"]
        if task.get("remove"):
            if merged.pop(name, None) is None:
                problems.append(f"tasks: removes {name!r}, which the template it extends does not have")
            removed.add(name)
        elif name in merged:
            base = merged[name]
            fields = {k: v for k, v in task.items() if k not in LINKS}
            links = {k: list(dict.fromkeys([*(base.get(k) or []), *task[k]])) for k in LINKS if task.get(k)}
            merged[name] = {**base, **fields, **links}
        else:
            merged[name] = dict(task)
    for task in merged.values():
        for link in LINKS:
            if task.get(link) and removed & set(task[link]):
                task[link] = [n for n in task[link] if n not in removed]
    return list(merged.values())
