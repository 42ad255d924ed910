"""Template tools: save a plan as a template, list templates, apply one as a new workflow."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import templates
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, tool
from caw_lab.tools.workflow import Complexity


class TemplateTask(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    parallel_group: str | None = None
    depends_on: list[str] | None = None
    estimated_complexity: Complexity | None = None
    files_likely_affected: list[str] | None = None
    context_from: list[str] | None = None


class TemplateVariable(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    required: bool = True
    default: str | None = None


class TemplateDefinition(Params):
    tasks: list[TemplateTask]
    variables: list[str | TemplateVariable] | None = None
    source: str | None = None


class TemplateCreate(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    from_workflow_id: str | None = None
    template: TemplateDefinition | None = None


@tool("template_create", "Save a template from a definition (tasks, variables) or from an existing workflow's plan.",
      read_only=False)
def template_create(db: Backend, p: TemplateCreate) -> dict[str, Any]:
    definition = p.template.model_dump(exclude_none=True) if p.template else None
    return templates.create(db, name=p.name, description=p.description, template=definition,
                            from_workflow_id=p.from_workflow_id)


class TemplateList(Params):
    pass


@tool("template_list", "List templates by name, with their tasks and variables.", read_only=True)
def template_list(db: Backend, p: TemplateList) -> dict[str, Any]:
    return templates.list_templates(db)


class TemplateApply(Params):
    template_id: str
    workflow_name: str = Field(min_length=1)
    variables: dict[str, str] | None = None
    repository_paths: list[str] | None = None
    repository_path: str | None = None
    max_parallel_tasks: int = Field(1, ge=1, le=1000)


@tool("template_apply", "Create a ready workflow from a template, filling in its {{variables}}.", read_only=False)
def template_apply(db: Backend, p: TemplateApply) -> dict[str, Any]:
    paths = [*(p.repository_paths or []), *([p.repository_path] if p.repository_path else [])]
    return templates.apply(db, p.template_id, workflow_name=p.workflow_name, variables=p.variables,
                           repository_paths=paths, max_parallel_tasks=p.max_parallel_tasks)
