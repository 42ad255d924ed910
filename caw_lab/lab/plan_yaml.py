"""The YAML a person writes in a ``%%caw plan`` cell, turned into workflow_set_plan's plan.

People write ``files``; the tool calls it ``files_likely_affected``. Everything else is
passed through for the tool to validate, so there is one set of rules, not two.
"""

from __future__ import annotations

from typing import Any

import yaml

from caw_lab.errors import invalid_input

ALIASES = {"files": "files_likely_affected", "complexity": "estimated_complexity"}
EXAMPLE = "summary: Add login\ntasks:\n  - name: schema\n  - name: api\n    depends_on: [schema]"


def parse_plan(text: str) -> dict[str, Any]:
    try:
        plan = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise invalid_input(f"The plan is not valid YAML:\n{exc}", f"Write it like:\n{EXAMPLE}") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("tasks"), list):
        raise invalid_input("The plan needs a 'tasks' list (and a 'summary')", f"Write it like:\n{EXAMPLE}")
    plan.setdefault("summary", "")
    plan["tasks"] = [task_spec(t, i) for i, t in enumerate(plan["tasks"], 1)]
    return plan


def task_spec(task: Any, position: int) -> dict[str, Any]:
    if isinstance(task, str):
        return {"name": task}
    if not isinstance(task, dict):
        raise invalid_input(f"Task {position} of the plan is not a mapping: {task!r}", "Give each task a 'name'.")
    spec = {ALIASES.get(k, k): v for k, v in task.items()}
    for key in ("depends_on", "files_likely_affected", "context_from"):
        if isinstance(spec.get(key), str):
            spec[key] = [spec[key]]
    return spec
