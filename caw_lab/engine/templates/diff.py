"""What changed between two versions of a template, in structure and in words.

Both versions are compared resolved (parents merged), since that is what applying them
makes: tasks and variables are matched by name, and each change lists the fields that
differ. ``text`` says the same in lines a person reads (``+`` added, ``-`` removed,
``~`` changed).
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.templates.composition import Resolved


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: {"from": old.get(k), "to": new.get(k)}
        for k in sorted(set(old) | set(new))
        if k != "name" and old.get(k) != new.get(k)
    }


def compare(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    before = {item["name"]: item for item in old}
    after = {item["name"]: item for item in new}
    changed = [{"name": n, "changes": c} for n in after if n in before if (c := field_changes(before[n], after[n]))]
    return {
        "added": [n for n in after if n not in before],
        "removed": [n for n in before if n not in after],
        "changed": changed,
    }


def diff(old: Resolved, new: Resolved) -> dict[str, Any]:
    tasks = compare(old.definition["tasks"], new.definition["tasks"])
    variables = compare(old.definition["variables"], new.definition["variables"])
    top = field_changes(
        {"summary": old.definition.get("summary"), "description": old.description},
        {"summary": new.definition.get("summary"), "description": new.description},
    )
    result = {
        "name": new.template.name,
        "from": old.template.brief(),
        "to": new.template.brief(),
        "changes": top,
        "tasks": tasks,
        "variables": variables,
        "identical": not (top or any(tasks.values()) or any(variables.values())),
    }
    return {**result, "text": "\n".join(lines(result, old, new))}


def lines(result: dict[str, Any], old: Resolved, new: Resolved) -> list[str]:
    out = [f"{result['name']} {old.template.version} -> {new.template.version}"]
    for field, change in result["changes"].items():
        out.append(f"~ {field}: {show(change['from'])} -> {show(change['to'])}")
    for kind in ("tasks", "variables"):
        noun = kind[:-1]
        out += [f"+ {noun} {name!r}" for name in result[kind]["added"]]
        out += [f"- {noun} {name!r}" for name in result[kind]["removed"]]
        for item in result[kind]["changed"]:
            parts = [f"{f} {show(c['from'])} -> {show(c['to'])}" for f, c in item["changes"].items()]
            out.append(f"~ {noun} {item['name']!r}: {'; '.join(parts)}")
    if result["identical"]:
        out.append("(no changes)")
    return out


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value) if isinstance(value, str) else str(value)
