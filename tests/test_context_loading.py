"""task_load_context: the reference's shape and rules, exact token counts, budgets never exceeded."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import caw_lab
from caw_lab.context import budget, compression
from caw_lab.context.tokens import count_json
from caw_lab.errors import CawError
from tests.conftest import make_workflow

FIELDS = ["workflow", "current_task", "prior_tasks", "sibling_tasks", "dependency_outcomes"]


def finish(client: caw_lab.Client, task_id: str, outcome: str, files: list[str] | None = None) -> None:
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_update_status", id=task_id, status="in_progress")
    if files:
        client.call("checkpoint_add", task_id=task_id, type="progress", summary="changed files", files_changed=files)
    client.call("task_update_status", id=task_id, status="completed", outcome=outcome,
                outcome_detail={"notes": "long detail " * 20})


def start(client: caw_lab.Client, task_id: str) -> None:
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_update_status", id=task_id, status="in_progress")


def exact(result: dict[str, Any]) -> bool:
    return result["token_estimate"] == count_json(result)


@pytest.fixture
def project(client: caw_lab.Client) -> dict[str, Any]:
    """A finished first half (outcomes, files) and a current task with a long checkpoint trail."""
    wf = make_workflow(client, [
        {"name": "schema", "description": "Design the SQLite schema", "files_likely_affected": ["db/schema.sql"]},
        {"name": "docs", "description": "Write the user guide"},
        {"name": "api", "description": "HTTP API for workflows", "depends_on": ["schema"], "parallel_group": "impl"},
        {"name": "cli", "description": "Command line for workflows", "depends_on": ["schema"],
         "parallel_group": "impl"},
        {"name": "migrations", "description": "Migrations for the schema in db/schema.sql",
         "depends_on": ["api"], "files_likely_affected": ["db/schema.sql", "db/migrate.py"],
         "estimated_complexity": "high"},
    ])
    t = wf["tasks"]
    finish(client, t["schema"], "Tables for workflows and tasks in db/schema.sql", ["db/schema.sql", "db/models.py"])
    finish(client, t["docs"], "Guide written in docs/guide.md", ["docs/guide.md"])
    finish(client, t["api"], "REST endpoints in api/server.py", ["api/server.py"])
    start(client, t["migrations"])
    for i in range(8):
        files = [f"db/file_{i}_{j}.py" for j in range(14)]
        client.call("checkpoint_add", task_id=t["migrations"], type="decision" if i == 1 else "progress",
                    summary=f"step {i} done", detail={"why": f"reason {i}"}, files_changed=files)
    return wf


def test_the_reference_fields_and_compression_rules(client: caw_lab.Client, project: dict[str, Any]) -> None:
    t = project["tasks"]
    result = client.call("task_load_context", task_id=t["migrations"], max_tokens=8000)
    assert list(result)[:5] == FIELDS
    assert exact(result) and result["token_estimate"] <= 8000
    task = result["current_task"]
    assert task["id"] == t["migrations"] and task["files_likely_affected"] == ["db/schema.sql", "db/migrate.py"]
    trail = task["checkpoints"]
    assert [c["sequence"] for c in trail] == list(range(1, 9))
    full = [c for c in trail if "detail" in c]
    assert [c["sequence"] for c in full] == [4, 5, 6, 7, 8]
    assert full[0]["files_changed"][-1] == "and 4 more" and len(full[0]["files_changed"]) == 11
    assert set(trail[0]) == {"sequence", "type", "summary"}
    prior = {p["name"]: p for p in result["prior_tasks"]}
    assert set(prior) == {"schema", "docs", "cli"}
    assert set(prior["schema"]) == {"id", "name", "status", "outcome"}
    assert [d["name"] for d in result["dependency_outcomes"]] == ["api"]
    assert result["sibling_tasks"] == []
    assert result["workflow"]["plan_summary"] == "test plan"


def test_include_flags(client: caw_lab.Client, project: dict[str, Any]) -> None:
    t = project["tasks"]
    off = {"workflow_plan": False, "workflow_summary": False, "prior_task_outcomes": False,
           "sibling_status": False, "dependency_outcomes": False}
    bare = client.call("task_load_context", task_id=t["migrations"], include=off)
    assert [bare[k] for k in FIELDS if k != "current_task"] == [None, None, None, None]
    assert exact(bare)
    full = client.call("task_load_context", task_id=t["migrations"],
                       include={"prior_task_full": True, "all_checkpoints": True}, max_tokens=20000)
    assert all("detail" in c for c in full["current_task"]["checkpoints"])
    assert all("outcome_detail" in p for p in full["prior_tasks"])
    two = client.call("task_load_context", task_id=t["migrations"], include={"recent_checkpoints": 2})
    assert [c["sequence"] for c in two["current_task"]["checkpoints"] if "detail" in c] == [7, 8]
    siblings = client.call("task_load_context", task_id=t["cli"])
    assert [s["name"] for s in siblings["sibling_tasks"]] == ["api"]
    assert siblings["prior_tasks"] and all(p["name"] != "api" for p in siblings["prior_tasks"])


def test_a_tight_budget_keeps_what_shares_the_tasks_files(client: caw_lab.Client, project: dict[str, Any]) -> None:
    t = project["tasks"]
    for size in (400, 600, 900):
        result = client.call("task_load_context", task_id=t["migrations"], max_tokens=size)
        assert exact(result) and result["token_estimate"] <= size
    # well below what the task needs (550 tokens leave out four or five of its eight
    # checkpoints, however the random ids tokenize), so the trail is always cut
    tight = client.call("task_load_context", task_id=t["migrations"], max_tokens=550,
                        include={"dependency_outcomes": False})
    assert tight["prior_tasks"][0]["name"] == "schema"
    assert tight["omitted"]["checkpoints"] > 0


def test_unused_slices_go_to_parts_that_need_more(client: caw_lab.Client, project: dict[str, Any]) -> None:
    result = client.call("task_load_context", task_id=project["tasks"]["migrations"], max_tokens=1000)
    assert count_json(result["current_task"]) > 0.55 * 1000
    assert "omitted" not in result


def test_a_budget_below_the_empty_frame_is_refused(client: caw_lab.Client, project: dict[str, Any]) -> None:
    with pytest.raises(CawError) as err:
        client.call("task_load_context", task_id=project["tasks"]["migrations"], max_tokens=20)
    assert err.value.code == "BUDGET_TOO_SMALL" and err.value.recoverable


def test_unknown_task(client: caw_lab.Client) -> None:
    with pytest.raises(CawError) as err:
        client.call("task_load_context", task_id="tk_000000000000")
    assert err.value.code == "TASK_NOT_FOUND"


def test_adaptive_budget_follows_the_task(client: caw_lab.Client, project: dict[str, Any]) -> None:
    t = project["tasks"]
    small = client.call("task_load_context", task_id=t["docs"])
    assert exact(small) and small["token_estimate"] < 1000
    for i in range(40):
        client.call("checkpoint_add", task_id=t["migrations"], type="progress",
                    summary=f"long step {i} " + "detail words " * 60, detail={"log": "output line " * 80})
    big = client.call("task_load_context", task_id=t["migrations"], include={"all_checkpoints": True})
    assert exact(big) and 8000 < big["token_estimate"] <= 12000 + 2000 + 300 + 4000
    capped = client.call("task_load_context", task_id=t["migrations"], include={"all_checkpoints": True},
                         max_tokens=3000)
    assert capped["token_estimate"] <= 3000


def test_adaptive_rule() -> None:
    low = budget.adaptive(complexity="low", plan_tokens=0, dependencies=0, trail_tokens=0, need=50_000)
    high = budget.adaptive(complexity="high", plan_tokens=5000, dependencies=2, trail_tokens=20_000, need=50_000)
    tiny = budget.adaptive(complexity="high", plan_tokens=0, dependencies=0, trail_tokens=0, need=300)
    assert (low.total, high.total, tiny.total) == (4000, 12000 + 2000 + 600 + 4000, 1000)
    assert high.shares["related"] == pytest.approx(0.16) and high.shares["current_task"] == pytest.approx(0.65)
    assert sum(high.shares.values()) == pytest.approx(1.0)
    assert budget.fixed().shares == budget.SPLIT


def test_compression_rules() -> None:
    plan = {"approach": "a", "steps": ["one"], "rationale": "long why", "files_to_modify": [f"f{i}" for i in range(12)]}
    assert compression.plan(plan) == {"approach": "a", "steps": ["one"],
                                      "files_to_modify": [*(f"f{i}" for i in range(10)), "and 2 more"]}
    source = ("Add export\n\nWe have lots of background prose here.\nIt must write CSV.\n- handles unicode\n"
              "```\ncode\n```")
    assert compression.source_summary(source) == "Add export\nIt must write CSV.\n- handles unicode"
    plain = "Plain words. More words. Even more. And more."
    assert compression.source_summary(plain) == "Plain words.\nMore words.\nEven more."


def test_workflow_get_summary(client: caw_lab.Client, project: dict[str, Any]) -> None:
    import json

    as_json = client.call("workflow_get_summary", id=project["id"])
    facts = json.loads(as_json["summary"])
    assert facts["total_tasks"] == 5 and facts["tasks_by_status"]["completed"] == 3
    assert facts["in_progress"] == ["migrations"] and as_json["token_estimate"] == count_json(as_json)
    md = client.call("workflow_get_summary", id=project["id"], format="markdown")
    assert md["summary"].startswith("# wf\n") and "**Status:** in_progress" in md["summary"]
    with pytest.raises(CawError) as err:
        client.call("workflow_get_summary", id="wf_000000000000")
    assert err.value.code == "WORKFLOW_NOT_FOUND"


words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
task_specs = st.lists(
    st.fixed_dictionaries({
        "description": words,
        "outcome": st.none() | words,
        "checkpoints": st.lists(st.tuples(words, st.lists(st.from_regex(r"[a-z]{1,8}/[a-z_]{1,12}\.py", fullmatch=True),
                                                          max_size=14)), max_size=7),
    }),
    min_size=1, max_size=5,
)


@given(task_specs, st.lists(st.integers(min_value=40, max_value=6000), min_size=1, max_size=4), st.data())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_over_budget_and_always_exact(specs: list[dict[str, Any]], sizes: list[int], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp, caw_lab.connect(Path(tmp) / "w.db") as client:
        tasks = [{"name": f"t{i}", "description": s["description"] or None,
                  "depends_on": [f"t{i - 1}"] if i and specs[i - 1]["outcome"] is not None and data.draw(st.booleans())
                  else None,
                  "parallel_group": "g" if i % 2 else None} for i, s in enumerate(specs)]
        wf = make_workflow(client, [{k: v for k, v in t.items() if v is not None} for t in tasks])
        ids = list(wf["tasks"].values())
        for task_id, spec in zip(ids, specs, strict=True):
            if spec["outcome"] is None and not spec["checkpoints"]:
                continue
            start(client, task_id)
            for summary, files in spec["checkpoints"]:
                client.call("checkpoint_add", task_id=task_id, type="progress", summary=summary or "-",
                            files_changed=files or None)
            if spec["outcome"] is not None:
                client.call("task_update_status", id=task_id, status="completed", outcome=spec["outcome"] or "-")
        for task_id in ids:
            for size in sizes:
                try:
                    result = client.call("task_load_context", task_id=task_id, max_tokens=size)
                except CawError as err:
                    assert err.code == "BUDGET_TOO_SMALL" and size < 200
                    continue
                assert result["token_estimate"] == count_json(result) <= size


def test_caw_context_load_prints_the_payload(db_path: Path, project: dict[str, Any]) -> None:
    import json

    from click.testing import CliRunner

    from caw_lab.cli import main

    args = ["--db", str(db_path), "context", "load", project["tasks"]["migrations"], "--max-tokens", "900"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["token_estimate"] == count_json(payload) <= 900


def test_workflow_priors_reorder_prior_tasks(client: caw_lab.Client) -> None:
    """With plain recency underneath, context_from (+3) and DAG ancestry lift a task; no outcome sinks one."""
    import time

    wf = make_workflow(client, [
        {"name": "e"}, {"name": "a"}, {"name": "x"}, {"name": "b"}, {"name": "c", "depends_on": ["b"]},
        {"name": "d", "depends_on": ["c"], "context_from": ["a"]},
    ])
    t = wf["tasks"]
    for name in ("a", "x", "b", "c"):
        time.sleep(0.005)
        finish(client, t[name], f"{name} finished")
    result = client.call("task_load_context", task_id=t["d"], ranker="recency", include={"dependency_outcomes": False})
    assert [p["name"] for p in result["prior_tasks"]] == ["c", "b", "a", "x", "e"]


def test_a_reload_of_an_unchanged_task_tokenizes_nothing(client: caw_lab.Client, project: dict[str, Any]) -> None:
    from caw_lab.context import tokens

    task_id = project["tasks"]["migrations"]
    first = client.call("task_load_context", task_id=task_id, max_tokens=1500)
    before = tokens.counter().encoded
    assert client.call("task_load_context", task_id=task_id, max_tokens=1500) == first
    assert tokens.counter().encoded == before


def test_a_reload_reuses_the_kept_workflow_until_anything_is_written(
    client: caw_lab.Client, project: dict[str, Any]
) -> None:
    import copy

    from caw_lab.context import surroundings
    from caw_lab.engine.events import head_seq

    t = project["tasks"]
    first = client.call("task_load_context", task_id=t["migrations"], max_tokens=8000)
    kept = surroundings.workflow_at(client.db, project["id"], head_seq(client.db))
    assert surroundings.workflow_at(client.db, project["id"], head_seq(client.db)) is kept
    expected = copy.deepcopy(first)
    first["prior_tasks"][0]["outcome"] = "changed by the caller"
    first["current_task"]["files_likely_affected"].append("changed/by/caller.py")
    assert client.call("task_load_context", task_id=t["migrations"], max_tokens=8000) == expected
    finish(client, t["cli"], "Command line in cli/main.py", ["cli/main.py"])
    assert surroundings.workflow_at(client.db, project["id"], head_seq(client.db)) is not kept
    after = client.call("task_load_context", task_id=t["migrations"], max_tokens=8000)
    assert {p["name"]: p["outcome"] for p in after["prior_tasks"]}["cli"] == "Command line in cli/main.py"


def test_the_same_question_at_the_same_head_gets_the_answer_already_given(
    client: caw_lab.Client, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from caw_lab.context import loader

    answered: list[str] = []
    real = loader.answer

    def counted(db: Any, task_id: str, *args: Any) -> dict[str, Any]:
        answered.append(task_id)
        return real(db, task_id, *args)

    monkeypatch.setattr(loader, "answer", counted)
    t = project["tasks"]
    first = client.call("task_load_context", task_id=t["migrations"])
    first["current_task"]["name"] = "changed by the caller"
    again = client.call("task_load_context", task_id=t["migrations"])
    assert len(answered) == 1 and again["current_task"]["name"] == "migrations", "kept, and kept apart from callers"
    client.call("task_load_context", task_id=t["migrations"], max_tokens=3000)
    client.call("task_load_context", task_id=t["migrations"], include={"all_checkpoints": True})
    assert len(answered) == 3, "another budget or include flag is another question"

    client.call("checkpoint_add", task_id=t["migrations"], type="progress", summary="after the answer")
    after = client.call("task_load_context", task_id=t["migrations"])
    assert len(answered) == 4 and after["cursor"] > again["cursor"]
    assert after["current_task"]["checkpoints"][-1]["summary"] == "after the answer"

    monkeypatch.setattr(loader, "FRESH_SECONDS", 0.0)  # memories' confidence moves with the clock
    assert client.call("task_load_context", task_id=t["migrations"]) == after
    assert len(answered) == 5


@pytest.mark.sqlite_only  # D1 reads the surroundings in the same request: tests/test_d1_requests.py
def test_on_a_local_file_a_kept_answer_reads_the_head_alone_and_a_reload_only_the_tasks_written(
    client: caw_lab.Client, project: dict[str, Any]
) -> None:
    t, statements = project["tasks"], []
    client.call("task_load_context", task_id=t["migrations"])
    client.db.conn.set_trace_callback(statements.append)
    try:
        client.call("task_load_context", task_id=t["migrations"])
        assert statements == ["SELECT COALESCE(MAX(seq), 0) FROM events"], "kept at this head: nothing else read"
        client.call("checkpoint_add", task_id=t["migrations"], type="progress", summary="one more step")
        statements.clear()
        loaded = client.call("task_load_context", task_id=t["migrations"])
    finally:
        client.db.conn.set_trace_callback(None)
    assert loaded["current_task"]["checkpoints"][-1]["summary"] == "one more step"
    task_reads = [s for s in statements if s.startswith("SELECT * FROM tasks")]
    assert len(task_reads) == 1 and "t.id IN (SELECT task_id FROM events" in task_reads[0], (
        "the kept workflow advanced by rereading the task written, not the whole workflow")
    plan = client.db.conn.execute(f"EXPLAIN QUERY PLAN {task_reads[0]}").fetchall()
    assert any("USING INDEX sqlite_autoindex_tasks_1 (id=?)" in row[3] for row in plan), "looked up by id"


def test_a_kept_workflow_follows_task_local_writes_by_rereading_their_tasks_and_anything_else_whole(
    client: caw_lab.Client, project: dict[str, Any]
) -> None:
    from caw_lab.context import surroundings
    from caw_lab.engine.events import head_seq

    t, db = project["tasks"], client.db

    def kept() -> surroundings.KeptWorkflow:
        return surroundings.workflow_at(db, project["id"], head_seq(db))

    def read_whole() -> surroundings.KeptWorkflow:
        surroundings.WORKFLOWS.clear()
        return kept()

    client.call("task_load_context", task_id=t["migrations"])
    before = kept()
    assert {t["schema"], t["cli"]} <= before.per_task.keys(), "the load built items of prior tasks and siblings"
    client.call("checkpoint_add", task_id=t["migrations"], type="progress", summary="more",
                files_changed=["db/late.py"])
    start(client, t["cli"])
    agent = client.call("agent_register", name="reader", runtime="custom")["id"]
    client.call("agent_heartbeat", agent_id=agent)
    advanced = kept()
    assert advanced is not before and advanced.edges is before.edges, "advanced, not read again"
    assert advanced.per_task[t["schema"]] is before.per_task[t["schema"]], "an untouched task's items are kept"
    assert t["cli"] not in advanced.per_task, "a reread task's items are built again"
    assert advanced.tasks[t["migrations"]]["files_changed"][-1] == "db/late.py"
    assert advanced.tasks[t["cli"]]["status"] == "in_progress"
    assert advanced.tasks == read_whole().tasks

    before = kept()
    client.call("task_add_dependency", task_id=t["migrations"], depends_on_id=t["docs"])
    rebuilt = kept()
    assert rebuilt.edges is not before.edges and t["docs"] in rebuilt.edges[t["migrations"]]
    assert rebuilt.tasks == read_whole().tasks


def test_forgetting_every_cache_gives_a_cold_load_of_the_same_payload(
    client: caw_lab.Client, project: dict[str, Any]
) -> None:
    from caw_lab.context import caches, tokens

    task_id = project["tasks"]["migrations"]
    for ask in ({}, {"max_tokens": 550}, {"include": {"all_checkpoints": True}}, {"since_seq": 3}):
        warm = client.call("task_load_context", task_id=task_id, **ask)
        caches.forget_all()
        assert client.call("task_load_context", task_id=task_id, **ask) == warm
        assert tokens.counter().encoded > 0, "counted again from nothing"


def test_checkpoint_entries_are_made_once_and_kept_apart_from_callers(
    client: caw_lab.Client, project: dict[str, Any]
) -> None:
    from caw_lab.context import current_task

    task_id = project["tasks"]["migrations"]
    first = client.call("task_load_context", task_id=task_id, include={"all_checkpoints": True})
    assert first["current_task"]["checkpoints"], "the project's task has a trail"
    checkpoint = client.call("checkpoint_list", task_id=task_id)["checkpoints"][0]
    [made] = current_task.checkpoint_entries([checkpoint], True)
    assert current_task.checkpoint_entries([checkpoint], True)[0] is made
    assert current_task.checkpoint_entries([checkpoint], False)[0] is not made, "the one-line form is another entry"
    first["current_task"]["checkpoints"][0]["summary"] = "changed by the caller"
    again = client.call("task_load_context", task_id=task_id, include={"all_checkpoints": True})
    assert again["current_task"]["checkpoints"][0]["summary"] != "changed by the caller"


def test_the_older_checkpoints_are_ranked_only_when_the_trail_does_not_fit(
    client: caw_lab.Client, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from caw_lab.context import loader, relevance

    ranked: list[int] = []
    real = relevance.order

    def counted(ranker: Any, task: Any, items: list[Any], *args: Any, **kwargs: Any) -> Any:
        if items and items[0].entry.kind == relevance.CHECKPOINT:
            ranked.append(len(items))
        return real(ranker, task, items, *args, **kwargs)

    monkeypatch.setattr(relevance, "order", counted)
    task_id = project["tasks"]["migrations"]
    roomy = client.call("task_load_context", task_id=task_id)
    assert ranked == [] and "checkpoints" not in roomy.get("omitted", {}), "all eight fit: no ranking"
    assert [c["summary"] for c in roomy["current_task"]["checkpoints"]] == [f"step {i} done" for i in range(8)]

    loader.ANSWERS.clear()
    tight = client.call("task_load_context", task_id=task_id, max_tokens=550)
    assert ranked == [8 - 5], "the three older checkpoints ranked for a trail that is cut"
    assert tight["omitted"]["checkpoints"] > 0 and exact(tight) and tight["token_estimate"] <= 550


def test_older_decision_error_and_replan_checkpoints_rank_higher() -> None:
    from caw_lab.context import relevance
    from caw_lab.context.budget import Entry

    def bonus(kind: str) -> float:
        row = {"checkpoint_type": kind}
        return relevance.prior(relevance.Item(Entry("cp", {}, relevance.CHECKPOINT), "", [], 0, row), {}, [])

    assert [bonus(k) for k in ("decision", "error", "replan", "progress")] == [1.0, 1.0, 1.0, 0.0]


def test_a_load_fills_each_part_once(
    client: caw_lab.Client, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measuring what a part uses and assembling the payload share one filling of each part."""
    from caw_lab.context import loader

    filled: list[str] = []
    for name in ("pack", "within"):
        real = getattr(loader, name)

        def counted(*args: Any, _name: str = name, _real: Any = real) -> Any:
            filled.append(_name)
            return _real(*args)

        monkeypatch.setattr(loader, name, counted)
    task_id = project["tasks"]["migrations"]
    for ask in ({}, {"max_tokens": 8000}, {"max_tokens": 900}):
        filled.clear()
        result = client.call("task_load_context", task_id=task_id, **ask)
        assert exact(result)
        # the workflow and the task (within), the trail, the prior tasks and the related ones (pack)
        assert sorted(filled) == ["pack"] * 3 + ["within"] * 2, ask
