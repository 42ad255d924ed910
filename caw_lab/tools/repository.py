"""Repository tools: register and look up repositories, and link them to workflows."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import repositories
from caw_lab.errors import not_found
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class RepositoryGetResult(Result):
    id: str
    path: str
    name: str | None
    created_at: int
    updated_at: int


class RepositoryListResult(Result):
    repositories: list[dict[str, Any]]
    total: int


class RepositoryRegisterResult(Result):
    id: str
    path: str
    name: str | None
    created_at: int
    updated_at: int


class WorkflowAddRepositoryResult(Result):
    workflow_id: str
    repository_id: str
    added_at: int


class WorkflowListRepositoriesResult(Result):
    repositories: list[dict[str, Any]]


class WorkflowRemoveRepositoryResult(Result):
    success: bool


class RepositoryRegister(Params):
    path: str = Field(min_length=1)
    name: str | None = None


@tool("repository_register", "Register a repository by path (idempotent); returns its row.",
      read_only=False, idempotent=True, result=RepositoryRegisterResult)
def repository_register(db: Backend, p: RepositoryRegister) -> dict[str, Any]:
    return repositories.register(db, p.path, p.name)


class RepositoryList(Params):
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0)


@tool("repository_list", "List registered repositories by path.", read_only=True, result=RepositoryListResult)
def repository_list(db: Backend, p: RepositoryList) -> dict[str, Any]:
    return repositories.list_repositories(db, p.limit, p.offset)


class RepositoryGet(Params):
    path: str = Field(min_length=1)


@tool("repository_get", "Get a registered repository by path.", read_only=True, result=RepositoryGetResult)
def repository_get(db: Backend, p: RepositoryGet) -> dict[str, Any]:
    repo = repositories.get(db, p.path)
    if repo is None:
        raise not_found("repository", p.path)
    return repo


class WorkflowAddRepository(Params):
    workflow_id: str
    session_id: str | None = None
    repository_path: str = Field(min_length=1)


@tool("workflow_add_repository", "Link a repository (registering it if new) to a workflow.",
      lock=("workflow", "workflow_id"), read_only=False, idempotent=True, result=WorkflowAddRepositoryResult)
def workflow_add_repository(db: Backend, p: WorkflowAddRepository) -> dict[str, Any]:
    return repositories.add_to_workflow(db, p.workflow_id, p.repository_path)


class WorkflowRemoveRepository(Params):
    workflow_id: str
    session_id: str | None = None
    repository_id: str


@tool("workflow_remove_repository", "Unlink a repository from a workflow.", lock=("workflow", "workflow_id"),
      read_only=False, destructive=True, idempotent=True, result=WorkflowRemoveRepositoryResult)
def workflow_remove_repository(db: Backend, p: WorkflowRemoveRepository) -> dict[str, Any]:
    return repositories.remove_from_workflow(db, p.workflow_id, p.repository_id)


class WorkflowListRepositories(Params):
    workflow_id: str


@tool("workflow_list_repositories", "The repositories a workflow spans, in the order they were added.", read_only=True,
      result=WorkflowListRepositoriesResult)
def workflow_list_repositories(db: Backend, p: WorkflowListRepositories) -> dict[str, Any]:
    return repositories.of_workflow(db, p.workflow_id)
