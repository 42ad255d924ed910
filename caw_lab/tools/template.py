"""Template tools: save and version templates, list them from every source, show, compare
and apply them as new workflows.

Templates come from the repository's ``.caw/templates``, the user's ``~/.caw/templates``,
the database and the package (docs/templates.md); a name may carry a version range
(``bugfix@^1.2``). ``repository_path`` says which repository's templates to read
(default: ``CAW_REPO_PATH`` or the working directory's repository).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from caw_lab.engine import templates
from caw_lab.engine.templates.versions import DEFAULT_VERSION
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool
from caw_lab.tools.workflow import Complexity

Value = str | int | float | bool | list[Any]
"""A variable's value; its type is checked by the template (list items must be text)."""
REPO_HELP = "Whose .caw/templates to read (default: CAW_REPO_PATH, else the working directory's repository)."


class TemplateApplyResult(Result):
    """A dry run answers the template's identity, its variables, the source and the plan the
    workflow would get, and none of the workflow's fields."""

    template_id: str
    template_name: str
    template_version: str
    template_source: str
    variables: dict[str, Any]
    workflow_id: str | None = None
    name: str | None = None
    status: str | None = None
    tasks_created: int | None = None
    tasks: list[dict[str, Any]] | None = None
    dry_run: bool | None = None
    source_content: str | None = None
    plan: dict[str, Any] | None = None


class TemplateCreateResult(Result):
    id: str
    name: str
    description: str | None
    template: dict[str, Any]
    version: str
    latest_version: str
    created_at: int
    updated_at: int
    revision: int
    source: str


class TemplateDiffResult(Result):
    name: str
    from_: dict[str, Any] = Field(alias="from")
    to: dict[str, Any]
    changes: dict[str, Any]
    tasks: dict[str, Any]
    variables: dict[str, Any]
    identical: bool
    text: str


class TemplateGetResult(Result):
    id: str
    name: str
    version: str
    source: str
    description: str | None
    extends: str | None
    path: str | None
    template: dict[str, Any]
    created_at: int
    updated_at: int


class TemplateListResult(Result):
    templates: list[dict[str, Any]]
    warnings: list[Any]


class TemplatePublishResult(Result):
    id: str
    name: str
    description: str | None
    template: dict[str, Any]
    version: str
    created_at: int
    updated_at: int
    latest_version: str
    revision: int
    source: str
    published: bool
    published_version: str | None = None


class TemplateVersionsResult(Result):
    name: str
    versions: list[dict[str, Any]]


class TemplateTask(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    parallel_group: str | None = None
    depends_on: list[str] | None = None
    estimated_complexity: Complexity | None = None
    files_likely_affected: list[str] | None = None
    context_from: list[str] | None = None
    remove: bool | None = Field(None, description="In a template that extends another: drop the parent's task.")


class TemplateVariable(Params):
    name: str = Field(min_length=1)
    type: Literal["string", "int", "float", "bool", "enum", "pattern", "list"] | None = None
    description: str | None = None
    required: bool | None = None
    default: Value | None = None
    values: list[str] | None = Field(None, description="The choices of an enum.")
    pattern: str | None = Field(None, description="The regular expression a pattern variable's value matches whole.")


class TemplateDefinition(Params):
    tasks: list[TemplateTask] | None = None
    variables: list[str | TemplateVariable] | None = None
    summary: str | None = Field(None, description="The applied workflow's plan summary; may use variables.")
    source: str | None = Field(None, description="The applied workflow's source text; may use variables.")
    extends: str | None = Field(None, description="NAME or NAME@RANGE of the template this one builds on.")


def definition_of(template: TemplateDefinition | None) -> dict[str, Any] | None:
    return template.model_dump(exclude_none=True) if template else None


class TemplateCreate(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    from_workflow_id: str | None = None
    template: TemplateDefinition | None = None
    version: str = Field(DEFAULT_VERSION, description="Its first semantic version.")
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_create", "Save a template from a definition (tasks, variables) or from an existing workflow's plan.",
      read_only=False, result=TemplateCreateResult)
def template_create(db: Backend, p: TemplateCreate) -> dict[str, Any]:
    return templates.create(
        db,
        name=p.name,
        description=p.description,
        template=definition_of(p.template),
        from_workflow_id=p.from_workflow_id,
        version=p.version,
        repository_path=p.repository_path,
    )


TEMPLATE_BODY = {"type": "object", "description": "The template as a template file holds it (docs/templates.md): "
                 "tasks, variables, summary, source, extends; checked as template_create's template is."}
"""What tools/list shows of a published template: an agent that publishes one has read the format, and its
whole schema, repeated here, was a twentieth of every turn's tool list."""


class TemplatePublish(Params):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1, description="A semantic version not yet published for this template.")
    template: Annotated[TemplateDefinition, WithJsonSchema(TEMPLATE_BODY)]
    description: str | None = None
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_publish", "Add a new immutable version to a database template; the newest becomes its default.",
      read_only=False, result=TemplatePublishResult)
def template_publish(db: Backend, p: TemplatePublish) -> dict[str, Any]:
    return templates.publish(
        db,
        name=p.name,
        version=p.version,
        template=definition_of(p.template) or {},
        description=p.description,
        repository_path=p.repository_path,
    )


class TemplateList(Params):
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_list", "List templates from every source by name: source, version, and the ones each shadows.",
      read_only=True, result=TemplateListResult)
def template_list(db: Backend, p: TemplateList) -> dict[str, Any]:
    return templates.list_templates(db, p.repository_path)


class TemplateGet(Params):
    template_id: str = Field(
        min_length=1, description="An id (tmpl_..., file:repo:..., builtin:...), NAME or NAME@RANGE."
    )
    version: str | None = Field(None, description="A version or range (overrides one in template_id).")
    resolved: bool = Field(False, description="Merge the templates it extends, and complete its variables.")
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_get", "One template: its definition as written, or resolved with the templates it extends.",
      read_only=True, result=TemplateGetResult)
def template_get(db: Backend, p: TemplateGet) -> dict[str, Any]:
    return templates.get(db, p.template_id, version=p.version, resolved=p.resolved, repository_path=p.repository_path)


class TemplateVersions(Params):
    name: str = Field(min_length=1)
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_versions", "Every version of a template in every source, newest first.", read_only=True,
      result=TemplateVersionsResult)
def template_versions(db: Backend, p: TemplateVersions) -> dict[str, Any]:
    return templates.versions(db, p.name, p.repository_path)


class TemplateDiff(Params):
    name: str = Field(min_length=1)
    from_version: str = Field(min_length=1, description="A version or range.")
    to_version: str = Field(min_length=1, description="A version or range.")
    repository_path: str | None = Field(None, description=REPO_HELP)


@tool("template_diff", "What changed between two versions of a template: tasks, variables, summary, as text too.",
      read_only=True, result=TemplateDiffResult)
def template_diff(db: Backend, p: TemplateDiff) -> dict[str, Any]:
    return templates.compare(db, p.name, p.from_version, p.to_version, p.repository_path)


class TemplateApply(Params):
    template_id: str = Field(description="An id, NAME or NAME@RANGE (e.g. bugfix@^1.2).")
    workflow_name: str = Field(min_length=1)
    variables: dict[str, Value] | None = None
    repository_paths: list[str] | None = None
    repository_path: str | None = None
    max_parallel_tasks: int = Field(1, ge=1, le=1000)
    version: str | None = Field(None, description="A version or range to pick.")
    dry_run: bool = Field(False, description="Check the variables and render the plan, writing nothing.")


@tool("template_apply", "Create a ready workflow from a template, filling in its {{variables}}.", read_only=False,
      result=TemplateApplyResult)
def template_apply(db: Backend, p: TemplateApply) -> dict[str, Any]:
    paths = [*(p.repository_paths or []), *([p.repository_path] if p.repository_path else [])]
    return templates.apply(
        db,
        p.template_id,
        workflow_name=p.workflow_name,
        variables_given=p.variables,
        repository_paths=paths,
        max_parallel_tasks=p.max_parallel_tasks,
        version=p.version,
        dry_run=p.dry_run,
    )
