"""Graph questions about a workflow's tasks: cycles, blocking, readiness."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from caw_lab.engine.states import DONE_SQL
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Later, Reads

UNFINISHED_BLOCKER = """
EXISTS (
  SELECT 1 FROM task_dependencies d JOIN tasks up ON up.id = d.depends_on_id
  WHERE d.task_id = {alias}.id AND d.dependency_type = 'blocks'
    AND up.status NOT IN """ + DONE_SQL + """
)"""


def blocked_sql(alias: str = "t") -> str:
    """SQL true when the task aliased ``alias`` waits on an unfinished blocking dependency."""
    return UNFINISHED_BLOCKER.format(alias=alias)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in ``node -> dependencies`` as a closed path (``[a, b, a]``), or None.

    Iterative three-colour DFS, so a 10,000-task chain does not hit the recursion limit.
    """
    colour: dict[str, int] = {}
    for root in edges:
        if colour.get(root):
            continue
        stack: list[tuple[str, list[str]]] = [(root, list(edges.get(root, ())))]
        path = [root]
        colour[root] = 1
        while stack:
            node, pending = stack[-1]
            if not pending:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = pending.pop()
            state = colour.get(nxt, 0)
            if state == 1:
                return [*path[path.index(nxt):], nxt]
            if state == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, list(edges.get(nxt, ()))))
    return None


def dependency_map(db: Backend, workflow_id: str) -> dict[str, list[str]]:
    """``task_id -> [depends_on_id]`` for every task of the workflow (``dependencies_of``, read alone)."""
    reads = Reads(db)
    graph = dependencies_of(reads, workflow_id)
    reads.run()
    return graph()


def dependencies_of(reads: Reads, workflow_id: str) -> Later[dict[str, list[str]]]:
    """``task_id -> [depends_on_id]`` for every task of the workflow."""
    ids = reads.query("SELECT id FROM tasks WHERE workflow_id = ?", (workflow_id,))
    rows = reads.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        "WHERE t.workflow_id = ?",
        (workflow_id,),
    )

    def value() -> dict[str, list[str]]:
        graph: dict[str, list[str]] = {r["id"]: [] for r in ids()}
        for r in rows():
            graph[r["task_id"]].append(r["depends_on_id"])
        return graph

    return value


def blocked_ids(reads: Reads, workflow_id: str) -> Later[set[str]]:
    """The workflow's pending tasks that wait on an unfinished blocking dependency."""
    rows = reads.query(
        f"SELECT t.id FROM tasks t WHERE t.workflow_id = ? AND t.status = 'pending' AND {blocked_sql('t')}",
        (workflow_id,),
    )
    return lambda: {r["id"] for r in rows()}
