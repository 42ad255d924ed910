"""Leases: conflicts decided by glob overlap, fencing tokens, takeovers in one change, fenced
writes, claims that take their file leases atomically, enforced capacity; races with real
processes on SQLite and D1."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

import caw_lab
from bench import lease_contention
from caw_lab.limits import MAX_LEASE_TTL_MS, MAX_LEASES_PER_CLAIM
from caw_lab.runtimes import Executor, PythonRuntime
from tests import claim_racers
from tests.conftest import dump, make_workflow

TIMEOUT_S = 180


def agent(client: caw_lab.Client, name: str = "a", capabilities: list[str] | None = None) -> str:
    return client.call("agent_register", name=name, runtime="custom", capabilities=capabilities)["id"]


def acquire(client: caw_lab.Client, resource: str, agent_id: str, ttl_ms: int = 60_000, **kw: Any) -> dict[str, Any]:
    return client.call("lease_acquire", resource=resource, agent_id=agent_id, ttl_ms=ttl_ms, **kw)


def lease_events(client: caw_lab.Client, since: int = 0) -> list[dict[str, Any]]:
    kinds = ["lease.acquired", "lease.released", "lease.expired", "lease.renewed"]
    return client.call("events_list", since_seq=since, kinds=kinds, limit=10_000)["events"]


def target(client: caw_lab.Client) -> str:
    """What another process opens to reach the same database."""
    return getattr(client.db, "path", None) or client.db.url


def refused(client: caw_lab.Client, tool: str, code: str, **args: Any) -> caw_lab.CawError:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert info.value.code == code, info.value.message
    assert info.value.message and info.value.suggestion
    assert dump(client.db) == before, f"{tool} changed the database while refusing"
    return info.value


# -- lease_acquire -----------------------------------------------------------------------


def test_file_leases_conflict_exactly_when_their_globs_share_a_path(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    first = acquire(client, "file:src/*.py", a)
    assert first["granted"] and first["fencing_token"] > 0
    blocked = acquire(client, "file:src/a.py", b)
    assert blocked == {
        "granted": False,
        "held_by": a,
        "expires_at": first["expires_at"],
        "conflicts": [
            {
                "resource": "file:src/*.py",
                "mode": "exclusive",
                "agent_id": a,
                "task_id": None,
                "fencing_token": first["fencing_token"],
                "expires_at": first["expires_at"],
            }
        ],
    }
    assert acquire(client, "file:src/lib/a.py", b)["granted"], "src/*.py does not reach into src/lib/"
    assert acquire(client, "file:docs/*", b)["granted"]
    assert not acquire(client, "file:**", b)["granted"]
    assert not acquire(client, "file:src/*.py", a)["granted"], "a holder's own lease is in its way too"


def test_shared_leases_coexist_with_each_other_not_with_an_exclusive_one(client: caw_lab.Client) -> None:
    a, b, c = agent(client, "a"), agent(client, "b"), agent(client, "c")
    assert acquire(client, "file:docs/*", a, mode="shared")["granted"]
    assert acquire(client, "file:docs/guide.md", b, mode="shared")["granted"]
    assert acquire(client, "file:docs/guide.md", c)["held_by"] == a
    assert acquire(client, "file:**", c, mode="shared")["granted"], "shared leases overlap freely"
    assert acquire(client, "named:deploy", a, mode="shared")["granted"]
    assert acquire(client, "named:deploy", b)["granted"] is False


def test_workflow_named_and_repository_scoped_resources(client: caw_lab.Client, allowed_roots: Any) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    wf = make_workflow(client, [{"name": "t"}], repository_paths=[str(allowed_roots)])
    repo = client.db.scalar("SELECT id FROM repositories")
    held = acquire(client, f"workflow:{wf['id']}", a)
    assert held["granted"] and not acquire(client, f"workflow:{wf['id']}", b)["granted"]
    assert acquire(client, "named:release-train", a)["granted"]
    assert not acquire(client, "named:release-train", b)["granted"]
    assert acquire(client, "named:other", b)["granted"]
    assert acquire(client, f"file:{repo}:src/*.py", a)["granted"]
    assert not acquire(client, f"file:{repo}:src/a.py", b)["granted"]
    assert acquire(client, "file:src/a.py", b)["granted"], "no repository id is a scope of its own"
    [event] = [e for e in lease_events(client) if e["seq"] == held["fencing_token"]]
    assert event["workflow_id"] == wf["id"], "a workflow's lease shows in its feed"


def test_fencing_tokens_are_each_grants_seq_and_strictly_increase(client: caw_lab.Client) -> None:
    a = agent(client)
    tokens = [acquire(client, f"named:n{i}", a)["fencing_token"] for i in range(5)]
    assert tokens == sorted(set(tokens))
    acquired = [e for e in lease_events(client) if e["kind"] == "lease.acquired"]
    assert [e["seq"] for e in acquired] == tokens
    assert [e["payload"]["resource"] for e in acquired] == [f"named:n{i}" for i in range(5)]


def test_an_expired_lease_is_taken_over_in_one_change_expiry_first(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    old = acquire(client, "file:src/*.py", a, ttl_ms=50)
    other = acquire(client, "file:src/lib/b.py", a, ttl_ms=50)
    time.sleep(0.12)
    new = acquire(client, "file:src/**", b)
    assert new["granted"] and new["fencing_token"] > other["fencing_token"]
    events = lease_events(client, since=other["fencing_token"])
    assert [e["kind"] for e in events] == ["lease.expired", "lease.expired", "lease.acquired"]
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + 3)), "one batch"
    assert events[-1]["seq"] == new["fencing_token"]
    gone = {e["payload"]["fencing_token"]: e for e in events[:2]}
    assert set(gone) == {old["fencing_token"], other["fencing_token"]}
    for e in gone.values():
        assert e["agent_id"] == a and e["payload"]["reason"] == "ttl" and e["payload"]["taken_over_by"] == b
        assert e["at"] >= e["payload"]["expires_at"]
    assert client.call("lease_check", resource="file:src/*.py", fencing_token=old["fencing_token"]) == {
        "valid": False,
        "held_by": None,
        "expires_at": None,
    }
    check = client.call("lease_check", resource="file:src/**", fencing_token=new["fencing_token"])
    assert check == {"valid": True, "held_by": b, "expires_at": new["expires_at"]}


def test_a_lease_ends_with_its_holders_heartbeat(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    held = acquire(client, "named:build", a)
    client.call("agent_unregister", id=a)
    taken = acquire(client, "named:build", b)
    assert taken["granted"]
    [expired] = [e for e in lease_events(client) if e["kind"] == "lease.expired"]
    assert (
        expired["payload"]["reason"] == "holder_stale" and expired["payload"]["fencing_token"] == held["fencing_token"]
    )
    refused(client, "lease_acquire", "INVALID_STATE", resource="named:x", agent_id=a, ttl_ms=1000)
    assert acquire(client, "named:x", agent(client, "a again"))["granted"], "registered again, it may"


def test_renew_and_release_belong_to_the_holder_of_a_live_lease(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    held = acquire(client, "file:src/a.py", a, ttl_ms=1000)
    token = held["fencing_token"]
    renewed = client.call("lease_renew", resource="file:src/a.py", agent_id=a, fencing_token=token, ttl_ms=50_000)
    assert renewed["success"] and renewed["expires_at"] > held["expires_at"]
    [listed] = client.call("lease_list")["leases"]
    assert listed["expires_at"] == renewed["expires_at"] and listed["live"]
    refused(
        client, "lease_renew", "NOT_LEASE_HOLDER", resource="file:src/a.py", agent_id=b, fencing_token=token, ttl_ms=10
    )
    refused(client, "lease_release", "INVALID_INPUT", resource="file:src/b.py", agent_id=a, fencing_token=token)
    assert client.call("lease_release", resource="file:src/a.py", agent_id=a, fencing_token=token) == {"success": True}
    assert lease_events(client)[-1]["kind"] == "lease.released"
    refused(client, "lease_release", "LEASE_STALE", resource="file:src/a.py", agent_id=a, fencing_token=token)
    refused(client, "lease_renew", "LEASE_STALE", resource="file:src/a.py", agent_id=a, fencing_token=token, ttl_ms=10)
    short = acquire(client, "file:src/a.py", a, ttl_ms=30)["fencing_token"]
    time.sleep(0.08)
    refused(
        client, "lease_renew", "LEASE_STALE", resource="file:src/a.py", agent_id=a, fencing_token=short, ttl_ms=1000
    )


def test_list_and_check(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    acquire(client, "file:src/a.py", a)
    acquire(client, "file:docs/*", b, mode="shared")
    dead = acquire(client, "named:x", b, ttl_ms=20)
    time.sleep(0.06)
    assert [x["resource"] for x in client.call("lease_list")["leases"]] == ["file:src/a.py", "file:docs/*"]
    assert [x["resource"] for x in client.call("lease_list", resource_prefix="file:src/")["leases"]] == [
        "file:src/a.py"
    ]
    assert [x["agent_id"] for x in client.call("lease_list", agent_id=b)["leases"]] == [b]
    everything = client.call("lease_list", include_expired=True)["leases"]
    assert [x["live"] for x in everything] == [True, True, False]
    assert client.call("lease_check", resource="named:x", fencing_token=dead["fencing_token"])["valid"] is False
    refused(client, "lease_check", "LEASE_NOT_FOUND", resource="named:x", fencing_token=10**9)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ({"resource": "disk:/etc"}, "INVALID_INPUT", "no known kind"),
        ({"resource": "src/a.py"}, "INVALID_INPUT", "no known kind"),
        ({"resource": "file:../secrets"}, "INVALID_INPUT", "leave the repository"),
        ({"resource": "file:src/../../x"}, "INVALID_INPUT", "leave the repository"),
        ({"resource": "file:/etc/passwd"}, "INVALID_INPUT", "absolute"),
        ({"resource": "file:"}, "INVALID_INPUT", "empty"),
        ({"resource": "file:src\\a.py"}, "INVALID_INPUT", "backslash"),
        ({"resource": "named:"}, "INVALID_INPUT", "needs a named"),
        ({"resource": "named:" + "x" * 201}, "INVALID_INPUT", "needs a named"),
        ({"resource": "named:a\nb"}, "INVALID_INPUT", "control"),
        ({"resource": "workflow:wf_000000000000"}, "WORKFLOW_NOT_FOUND", "Workflow not found"),
        ({"resource": "file:rp_000000000000:src/*"}, "REPOSITORY_NOT_FOUND", "Repository not found"),
        ({"ttl_ms": 0}, "INVALID_INPUT", "ttl_ms"),
        ({"ttl_ms": -5}, "INVALID_INPUT", "ttl_ms"),
        ({"ttl_ms": MAX_LEASE_TTL_MS + 1}, "INVALID_INPUT", "ttl_ms"),
        ({"mode": "sometimes"}, "INVALID_INPUT", "mode"),
        ({"agent_id": "ag_000000000000"}, "AGENT_NOT_FOUND", "Agent not found"),
        ({"agent_id": "ag_000000000000", "resource": "file:../x"}, "AGENT_NOT_FOUND", "Agent not found"),
    ],
)
def test_bad_acquires_are_refused_and_write_nothing(
    client: caw_lab.Client, args: dict[str, Any], code: str, words: str
) -> None:
    a = agent(client)
    acquire(client, "named:held", a)
    error = refused(client, "lease_acquire", code, **{"resource": "named:x", "agent_id": a, "ttl_ms": 1000, **args})
    assert words in error.message


def test_tokens_that_never_existed_are_refused(client: caw_lab.Client) -> None:
    a = agent(client)
    wf = make_workflow(client, [{"name": "t"}])
    not_a_grant = client.call("events_list")["events"][0]["seq"]  # an event, but no lease.acquired
    for token in (10**9, not_a_grant):
        refused(client, "lease_check", "LEASE_NOT_FOUND", resource="named:x", fencing_token=token)
        refused(
            client, "lease_renew", "LEASE_NOT_FOUND", resource="named:x", agent_id=a, fencing_token=token, ttl_ms=10
        )
        refused(client, "lease_release", "LEASE_NOT_FOUND", resource="named:x", agent_id=a, fencing_token=token)
        refused(
            client,
            "checkpoint_add",
            "LEASE_NOT_FOUND",
            task_id=wf["tasks"]["t"],
            type="progress",
            summary="s",
            fencing_token=token,
        )
    refused(client, "lease_check", "INVALID_INPUT", resource="named:x", fencing_token=0)


# -- fenced writes ---------------------------------------------------------------------------


def test_writes_under_a_lease_stop_when_it_stops_holding(client: caw_lab.Client) -> None:
    a = agent(client)
    wf = make_workflow(client, [{"name": "t"}])
    task = wf["tasks"]["t"]
    held = acquire(client, "file:src/a.py", a, ttl_ms=1000)
    token = held["fencing_token"]
    time.sleep(0.01)
    client.call("checkpoint_add", task_id=task, type="progress", summary="fenced", fencing_token=token)
    [listed] = client.call("lease_list")["leases"]
    assert listed["expires_at"] > held["expires_at"], "a write under a lease renews it"
    client.call("task_update_status", id=task, status="planning", fencing_token=token)
    client.call("lease_release", resource="file:src/a.py", agent_id=a, fencing_token=token)
    refused(client, "checkpoint_add", "LEASE_STALE", task_id=task, type="progress", summary="late", fencing_token=token)
    refused(client, "task_update_status", "LEASE_STALE", id=task, status="in_progress", fencing_token=token)
    assert client.call("task_get", id=task)["status"] == "planning"


def test_a_tasks_lease_does_not_fence_another_task(client: caw_lab.Client) -> None:
    a = agent(client)
    wf = make_workflow(
        client, [{"name": "t", "files_likely_affected": ["src/t.py"]}, {"name": "u"}], max_parallel_tasks=2
    )
    [lease] = client.call("task_claim", task_id=wf["tasks"]["t"], agent_id=a, lease_files=True)["leases"]
    client.call(
        "checkpoint_add", task_id=wf["tasks"]["t"], type="progress", summary="ok", fencing_token=lease["fencing_token"]
    )
    refused(
        client,
        "checkpoint_add",
        "LEASE_STALE",
        task_id=wf["tasks"]["u"],
        type="progress",
        summary="not mine",
        fencing_token=lease["fencing_token"],
    )


# -- claims with file leases -------------------------------------------------------------------


def test_a_claim_takes_its_file_leases_in_its_own_change(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    files = ["src/auth/*.py", "docs/auth.md"]
    wf = make_workflow(
        client,
        [
            {"name": "auth", "files_likely_affected": files},
            {"name": "login", "files_likely_affected": ["src/auth/login.py", "README.md"]},
            {"name": "readme", "files_likely_affected": ["README.md"]},
        ],
        max_parallel_tasks=5,
    )
    claimed = client.call("task_claim", task_id=wf["tasks"]["auth"], agent_id=a, lease_files=True, lease_ttl_ms=5000)
    assert claimed["success"] and [x["resource"] for x in claimed["leases"]] == [f"file:{f}" for f in files]
    events = client.call("events_list", task_id=wf["tasks"]["auth"])["events"]
    assert [e["kind"] for e in events] == ["task.claimed", "workflow.status", "lease.acquired", "lease.acquired"]
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + 4)), "one batch"
    assert [x["fencing_token"] for x in claimed["leases"]] == [e["seq"] for e in events[2:]]
    again = client.call("task_claim", task_id=wf["tasks"]["auth"], agent_id=a, lease_files=True)
    assert again["success"] and [x["fencing_token"] for x in again["leases"]] == [
        x["fencing_token"] for x in claimed["leases"]
    ]

    before = dump(client.db)
    lost = client.call("task_claim", task_id=wf["tasks"]["login"], agent_id=b, lease_files=True)
    assert lost["success"] is False and lost["reason"] == "lease_conflict"
    assert [c["resource"] for c in lost["lease_conflicts"]] == ["file:src/auth/*.py"]
    assert dump(client.db) == before, "README.md was free, but a claim takes all its leases or none"
    assert client.call("task_claim", task_id=wf["tasks"]["readme"], agent_id=b, lease_files=True)["success"]


def test_checkpoints_renew_a_claims_leases_and_finishing_releases_them(client: caw_lab.Client) -> None:
    a = agent(client)
    wf = make_workflow(
        client,
        [
            {"name": "t", "files_likely_affected": ["src/a.py", "src/b.py"]},
            {"name": "u", "files_likely_affected": ["src/c.py"]},
            {"name": "v", "files_likely_affected": ["src/d.py"]},
        ],
        max_parallel_tasks=3,
    )
    t, u, v = (wf["tasks"][n] for n in "tuv")
    leases = client.call("task_claim", task_id=t, agent_id=a, lease_files=True, lease_ttl_ms=60_000)["leases"]
    time.sleep(0.01)
    client.call("checkpoint_add", task_id=t, type="progress", summary="half way")
    renewed = client.call("lease_list", agent_id=a)["leases"]
    assert all(r["expires_at"] > x["expires_at"] for r, x in zip(renewed, leases, strict=True))
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=t, status=status)
    client.call("task_update_status", id=t, status="completed", outcome="done")
    released = [e for e in lease_events(client) if e["kind"] == "lease.released"]
    assert sorted(e["payload"]["fencing_token"] for e in released) == [x["fencing_token"] for x in leases]
    assert all(e["payload"]["reason"] == "task completed" and e["task_id"] == t for e in released)

    client.call("task_claim", task_id=u, agent_id=a, lease_files=True)
    client.call("task_release", task_id=u, agent_id=a)
    client.call("task_claim", task_id=v, agent_id=a, lease_files=True)
    client.call("task_handoff", task_id=v, from_agent=a, note="over to you")
    assert client.call("lease_list")["leases"] == []
    reasons = [e["payload"]["reason"] for e in lease_events(client) if e["kind"] == "lease.released"]
    assert reasons[-2:] == ["task released", "task handed off"]


def test_a_claim_refuses_files_it_cannot_lease_and_writes_nothing(client: caw_lab.Client) -> None:
    a = agent(client)
    wf = make_workflow(
        client,
        [
            {"name": "escape", "files_likely_affected": ["src/a.py", "../../etc/passwd"]},
            {"name": "many", "files_likely_affected": [f"f{i}" for i in range(MAX_LEASES_PER_CLAIM + 1)]},
        ],
        max_parallel_tasks=2,
    )
    error = refused(client, "task_claim", "INVALID_INPUT", task_id=wf["tasks"]["escape"], agent_id=a, lease_files=True)
    assert "../../etc/passwd" in error.message and "leave the repository" in error.message
    refused(client, "task_claim", "LIMIT_EXCEEDED", task_id=wf["tasks"]["many"], agent_id=a, lease_files=True)
    refused(
        client, "task_claim", "INVALID_INPUT", task_id=wf["tasks"]["many"], agent_id=a, lease_files=True, lease_ttl_ms=0
    )
    assert client.call("task_claim", task_id=wf["tasks"]["escape"], agent_id=a)["success"], "without leases it may"


def test_a_claim_takes_over_expired_leases_in_its_way(client: caw_lab.Client) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    wf = make_workflow(client, [{"name": "t", "files_likely_affected": ["src/*.py"]}])
    old = acquire(client, "file:src/a.py", a, ttl_ms=30)
    time.sleep(0.08)
    [lease] = client.call("task_claim", task_id=wf["tasks"]["t"], agent_id=b, lease_files=True)["leases"]
    kinds = [(e["kind"], e["payload"].get("fencing_token", e["seq"])) for e in lease_events(client)]
    assert kinds[-2:] == [("lease.expired", old["fencing_token"]), ("lease.acquired", lease["fencing_token"])]


# -- capacity ------------------------------------------------------------------------------------


def test_max_parallel_tasks_is_enforced_on_claim(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": f"t{i}"} for i in range(4)], max_parallel_tasks=2)
    a, b = agent(client, "a"), agent(client, "b")
    t = [wf["tasks"][f"t{i}"] for i in range(4)]
    assert client.call("task_claim", task_id=t[0], agent_id=a)["success"]
    assert client.call("task_claim", task_id=t[1], agent_id=b)["success"]
    before = dump(client.db)
    full = client.call("task_claim", task_id=t[2], agent_id=a)
    assert full == {"success": False, "reason": "max_parallel_tasks", "max_parallel_tasks": 2, "active": 2}
    assert dump(client.db) == before
    assert client.call("workflow_next_tasks", workflow_id=wf["id"])["recommended_count"] == 0
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=t[0], status=status)
    client.call("task_update_status", id=t[0], status="completed", outcome="done")
    assert client.call("task_claim", task_id=t[2], agent_id=a)["success"], "a finished task frees its slot"
    client.call("workflow_set_parallelism", id=wf["id"], max_parallel_tasks=3)
    assert client.call("task_claim", task_id=t[3], agent_id=a)["success"]


def test_parallel_group_limits_are_enforced_on_claim(client: caw_lab.Client) -> None:
    plan = [*({"name": f"g{i}", "parallel_group": "pages"} for i in range(3)), {"name": "solo"}]
    wf = make_workflow(client, plan, max_parallel_tasks=10)
    client.call("workflow_set_config", id=wf["id"], config={"parallel_group_limits": {"pages": 2}})
    a = agent(client)
    assert client.call("task_claim", task_id=wf["tasks"]["g0"], agent_id=a)["success"]
    assert client.call("task_claim", task_id=wf["tasks"]["g1"], agent_id=a)["success"]
    full = client.call("task_claim", task_id=wf["tasks"]["g2"], agent_id=a)
    assert full == {
        "success": False,
        "reason": "parallel_group_limit",
        "parallel_group": "pages",
        "limit": 2,
        "active": 2,
    }
    assert client.call("task_claim", task_id=wf["tasks"]["solo"], agent_id=a)["success"]
    for bad in ({"pages": 0}, {"pages": "two"}, {"pages": True}, ["pages"]):
        refused(client, "workflow_set_config", "INVALID_INPUT", id=wf["id"], config={"parallel_group_limits": bad})


def test_next_tasks_recommend_within_group_limits_and_prefer_capable_agents(client: caw_lab.Client) -> None:
    plan = [
        {"name": "g0", "parallel_group": "ui"},
        {"name": "g1", "parallel_group": "ui"},
        {"name": "db", "required_capabilities": ["sql"]},
        {"name": "plain"},
        {"name": "gpu", "required_capabilities": ["cuda", "python"]},
    ]
    wf = make_workflow(client, plan, max_parallel_tasks=3)
    client.call("workflow_set_config", id=wf["id"], config={"parallel_group_limits": {"ui": 1}})
    found = client.call("workflow_next_tasks", workflow_id=wf["id"])
    assert [t["name"] for t in found["tasks"]] == ["g0", "db", "plain", "g1", "gpu"]
    assert [t["recommended"] for t in found["tasks"]] == [True, True, True, False, False]
    sql = agent(client, "sql", ["SQL", "python"])
    mine = client.call("workflow_next_tasks", workflow_id=wf["id"], agent_id=sql)["tasks"]
    assert [t["name"] for t in mine] == ["db", "g0", "plain", "g1", "gpu"]
    assert list(mine[-1]["missing_capabilities"]) == ["cuda"] and not mine[0]["missing_capabilities"]
    offered = client.call("task_get_available", agent_id=sql, workflow_id=wf["id"])["tasks"]
    assert [t["name"] for t in offered] == ["db", "g0", "g1", "plain", "gpu"]
    assert [t["name"] for t in client.call("task_get_available", agent_id=agent(client, "none"))["tasks"]][-2:] == [
        "db",
        "gpu",
    ], "tasks needing capabilities come last for an agent without them"


# -- races with real processes -------------------------------------------------------------------


def run_racers(worker: Any, where: str, workflow_id: str, count: int = 8) -> list[dict[str, Any]]:
    """``count`` processes forked from a fork server with caw-lab imported, each running ``worker``."""
    ctx = lease_contention.forked()
    start, out = ctx.Barrier(count + 1), ctx.Queue()
    env = lease_contention.reaching()
    procs = [ctx.Process(target=worker, args=(where, env, workflow_id, start, out, i)) for i in range(count)]
    for p in procs:
        p.start()
    try:
        start.wait(TIMEOUT_S)
        outcomes = [out.get(timeout=TIMEOUT_S) for _ in procs]
    finally:
        for p in procs:
            p.join(TIMEOUT_S)
    assert all(p.exitcode == 0 for p in procs)
    return outcomes


def overlapping(a: str, b: str) -> bool:
    """The file vocabulary of the lease race, by hand: paths, and src/*.py covering src/m*.py."""
    wild = "file:src/*.py"
    return a == b or (a == wild and b.startswith("file:src/m")) or (b == wild and a.startswith("file:src/m"))


@pytest.mark.slow
def test_claims_with_file_leases_raced_by_eight_processes(client: caw_lab.Client) -> None:
    files = [[f"src/m{i % 5}.py", f"docs/d{i % 3}.md", *(["src/*.py"] if i % 6 == 0 else [])] for i in range(24)]
    wf = make_workflow(
        client, [{"name": f"t{i}", "files_likely_affected": f} for i, f in enumerate(files)], max_parallel_tasks=1000
    )
    outcomes = run_racers(claim_racers.with_leases, target(client), wf["id"])
    assert sorted(t for o in outcomes for t in o["won"]) == sorted(wf["tasks"].values())
    assert sum(o["refusals"].get("lease_conflict", 0) for o in outcomes) > 0, "the race never contended"

    want = {wf["tasks"][f"t{i}"]: {f"file:{p}" for p in f} for i, f in enumerate(files)}
    feed = client.call("events_list", workflow_id=wf["id"], limit=10_000)["events"]
    holding: dict[str, set[str]] = {}
    for i, e in enumerate(feed):
        if e["kind"] == "task.claimed":  # then its workflow's start (the first claim), then its leases
            batch = feed[i + 1 : i + 2 + len(want[e["task_id"]])]
            grants = [g for g in batch if g["kind"] != "workflow.status"][: len(want[e["task_id"]])]
            assert all(g["kind"] == "lease.acquired" and g["task_id"] == e["task_id"] for g in grants), (
                "a claim's leases come with it, all of them"
            )
            assert {g["payload"]["resource"] for g in grants} == want[e["task_id"]]
            assert grants[-1]["seq"] - e["seq"] <= len(grants) + 1, "in the claim's own batch"
        elif e["kind"] == "lease.acquired":
            for other, held in holding.items():
                if other != e["task_id"]:
                    assert not any(overlapping(e["payload"]["resource"], h) for h in held), (
                        f"{e['payload']['resource']} granted while task {other} held {held}"
                    )
            holding.setdefault(e["task_id"], set()).add(e["payload"]["resource"])
        elif e["kind"] == "lease.released":
            holding[e["task_id"]].discard(e["payload"]["resource"])
    assert all(not held for held in holding.values())
    assert client.call("lease_list", include_expired=True)["leases"] == []


@pytest.mark.slow
def test_capacity_limits_hold_under_an_eight_process_claim_race(client: caw_lab.Client) -> None:
    plan = [{"name": f"g{i}", "parallel_group": "g"} for i in range(12)] + [{"name": f"s{i}"} for i in range(12)]
    wf = make_workflow(client, plan, max_parallel_tasks=3)
    client.call("workflow_set_config", id=wf["id"], config={"parallel_group_limits": {"g": 2}})
    outcomes = run_racers(claim_racers.without_leases, target(client), wf["id"])
    assert sorted(t for o in outcomes for t in o["won"]) == sorted(wf["tasks"].values())
    refusals = {r for o in outcomes for r in o["refusals"]}
    assert "max_parallel_tasks" in refusals, "the race never reached the workflow's limit"

    group = {tid for name, tid in wf["tasks"].items() if name.startswith("g")}
    active: set[str] = set()
    most = most_in_group = 0
    for e in client.call("events_list", workflow_id=wf["id"], limit=10_000)["events"]:
        if e["kind"] == "task.claimed":
            active.add(e["task_id"])
        elif e["kind"] == "task.status" and e["payload"]["to"] == "completed":
            active.discard(e["task_id"])
        most, most_in_group = max(most, len(active)), max(most_in_group, len(active & group))
        assert len(active) <= 3 and len(active & group) <= 2, f"over a limit at seq {e['seq']}: {active}"
    assert most >= 2, "the race never ran tasks side by side"


CONTENTION_S = float(os.environ.get("CAW_LEASE_CONTENTION_S", "8"))
"""How long the sixteen processes contend in the suite (bench/leases.py runs them for 30 s)."""


@pytest.mark.slow
def test_sixteen_processes_contend_for_overlapping_leases(client: caw_lab.Client) -> None:
    # On D1 every call is an HTTP request into one local workerd: in the suite, beside other tests on
    # two cores, half the racers keep its queue short (bench/leases.py races sixteen on both backends).
    processes = lease_contention.PROCESSES // 2 if target(client).startswith("d1://") else lease_contention.PROCESSES
    outcome = lease_contention.run(target(client), CONTENTION_S, processes)
    problems, counts = lease_contention.check(target(client), outcome)
    assert problems == [], "\n".join(problems[:20])
    assert counts["grants"] == outcome.grants > 0
    assert counts["refused_grants"] > 0, "no grant was ever refused: the processes did not contend"
    assert counts["takeovers_after_ttl"] > 0 and counts["stale_writes_refused"] > 0
    assert counts["victim_leases_taken_over"] == 2, counts


def slow(task: dict[str, Any], ctx: Any) -> str:
    ctx.begin()
    time.sleep(0.3)
    return "done"


@pytest.mark.parametrize("conflicts", ["serialize", "manual"])
def test_the_executor_serializes_tasks_whose_files_overlap(
    client: caw_lab.Client, db_path: Any, conflicts: str
) -> None:
    plan = [
        {"name": "a", "files_likely_affected": ["src/a.py"]},
        {"name": "all", "files_likely_affected": ["src/*.py"]},
        {"name": "docs", "files_likely_affected": ["docs/x.md"]},
    ]
    wf = make_workflow(client, plan, max_parallel_tasks=3)
    client.call(
        "workflow_set_config",
        id=wf["id"],
        config={
            "execution": {"runtime": "python", "conflicts": conflicts, "poll_interval_ms": 20, "alerts": {"log": False}}
        },
    )
    outcome = Executor(str(db_path), wf["id"], runtimes={"python": PythonRuntime(slow)}, connect=caw_lab.connect).run()
    assert outcome.status == "completed", outcome
    events = client.call("events_list", workflow_id=wf["id"], limit=10_000)["events"]
    names = {v: k for k, v in wf["tasks"].items()}
    running: set[str] = set()
    together: set[frozenset[str]] = set()
    for e in events:
        if e["kind"] == "task.claimed":
            running.add(names[e["task_id"]])
            together |= {frozenset({names[e["task_id"]], other}) for other in running - {names[e["task_id"]]}}
        elif e["kind"] == "task.status" and e["payload"]["to"] == "completed":
            running.discard(names[e["task_id"]])
    leased = [e for e in events if e["kind"] == "lease.acquired"]
    if conflicts == "serialize":
        assert frozenset({"a", "all"}) not in together, "src/a.py and src/*.py ran side by side"
        assert together, "the docs task ran alongside one of them"
        assert len(leased) == 3 and client.call("lease_list", include_expired=True)["leases"] == []
    else:
        assert frozenset({"a", "all"}) in together and leased == []


def test_required_capabilities_are_bounded(client: caw_lab.Client) -> None:
    wf = client.call("workflow_create", name="w", source_type="prompt", source_content="x")
    many = {"summary": "s", "tasks": [{"name": "t", "required_capabilities": [f"c{i}" for i in range(21)]}]}
    refused(client, "workflow_set_plan", "LIMIT_EXCEEDED", id=wf["id"], plan=many)
    long = {"summary": "s", "tasks": [{"name": "t", "required_capabilities": ["x" * 101]}]}
    refused(client, "workflow_set_plan", "INVALID_INPUT", id=wf["id"], plan=long)
