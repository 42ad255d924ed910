"""How many requests each read tool sends to D1, where every request is a network round trip.

Reads that do not depend on each other go out together as one batch (``store.backend.Reads``),
so a read tool sends one request, or two when what it reads second depends on what the first
brought back. Counted on a real local D1 (workerd) holding the world test_tool_hints.py
prepares, with the real D1 backend, one tool call at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import caw_lab
from caw_lab.store import migrate
from caw_lab.store.backend import Row
from caw_lab.store.d1 import D1Backend
from caw_lab.tools import load_all
from conftest import unused_d1_database
from test_tool_hints import ARGUMENTS, Ids, prepare

READ_TOOLS = sorted(name for name, spec in load_all().items() if spec.hints and spec.hints.read_only)

TWO_REQUESTS = {
    "task_load_context": "the workflow-sized part is read (or advanced) only when the feed head moved past the "
                         "one it was kept at, which the first request reads",
    "task_get_available": "pending tasks are ordered by the agent's capabilities, which the first request reads "
                          "(with the orphaned tasks, which may fill the limit alone)",
}
"""Read tools allowed a second request, and why the second depends on the first."""


class CountingD1(D1Backend):
    """The real D1 backend, counting the HTTP requests it sends."""

    requests = 0

    def _post(self, body: dict[str, Any], idempotent: bool) -> list[list[Row]]:
        self.requests += 1
        return super()._post(body, idempotent)


@pytest.fixture(scope="module")
def world(local_d1: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[caw_lab.Client, Ids]]:
    roots = tmp_path_factory.mktemp("d1-requests")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAW_ALLOWED_ROOTS", str(roots))
        backend = CountingD1("local", unused_d1_database(), local_d1.token, local_d1.api)
        with caw_lab.Client(backend) as client:
            migrate(backend)
            yield client, prepare(client, roots)


def requests_of(client: caw_lab.Client, name: str, arguments: dict[str, Any]) -> int:
    backend = client.db
    assert isinstance(backend, CountingD1)
    before = backend.requests
    client.call(name, **arguments)
    return backend.requests - before


@pytest.mark.parametrize("name", READ_TOOLS)
def test_a_read_tool_sends_one_request_or_two_when_the_second_depends_on_the_first(
    name: str, world: tuple[caw_lab.Client, Ids]
) -> None:
    client, ids = world
    sent = requests_of(client, name, ARGUMENTS[name](ids))
    allowed = 2 if name in TWO_REQUESTS else 1
    assert sent <= allowed, f"{name} sent {sent} requests to D1 (at most {allowed})"


def test_every_tool_that_may_send_two_says_why() -> None:
    assert sorted(set(TWO_REQUESTS) - set(READ_TOOLS)) == []


def test_a_context_load_sends_two_requests_cold_advanced_delta_or_after_a_plan_change_and_one_when_kept(
    world: tuple[caw_lab.Client, Ids]
) -> None:
    from caw_lab.context import loader, surroundings

    client, ids = world
    task = ids["a"]
    loader.ANSWERS.clear()
    surroundings.WORKFLOWS.clear()
    assert requests_of(client, "task_load_context", {"task_id": task}) == 2, "cold: the workflow is read whole"
    assert requests_of(client, "task_load_context", {"task_id": task, "max_tokens": 5000}) == 1, "kept at this head"
    cursor = client.call("task_load_context", task_id=task)["cursor"]
    client.call("checkpoint_add", task_id=task, type="progress", summary="more", files_changed=["x.py"])
    assert requests_of(client, "task_load_context", {"task_id": task}) == 2, "advanced by the task it touched"
    client.call("checkpoint_add", task_id=task, type="progress", summary="again")
    loaded = client.call("task_load_context", task_id=task, since_seq=cursor)
    assert loaded["delta"] is True
    client.call("workflow_add_task", workflow_id=ids["wf"], name="late")
    assert requests_of(client, "task_load_context", {"task_id": task, "since_seq": cursor}) == 2, (
        "a plan change since the kept head: the whole workflow comes in the same second request")
