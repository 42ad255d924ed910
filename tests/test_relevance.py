"""Relevance ranking: the benchmark's metrics exactly, the baselines, the learned model and its commands."""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import caw_lab
import caw_lab.ranking
from caw_lab.cli import main
from caw_lab.context import relevance, surroundings
from caw_lab.context.budget import Entry
from caw_lab.ranking import evaluation, features, rankers, similarity, training
from caw_lab.ranking.features import informative, issues, path_words
from caw_lab.ranking.rankers import load_order
from caw_lab.ranking.similarity import BM25, words
from tests.conftest import SHARED, make_workflow

DATA = SHARED / "data" / "relevance"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"relevance data not present at {DATA}")


def cand(cid: str, text: str = "", files: tuple[str, ...] = (), age: int = 1, tokens: int = 10) -> dict:
    return {"id": cid, "text": text, "files": list(files), "age_rank": age, "tokens": tokens}


def target(repo: str, cands: list[dict], relevant: list[str], text: str = "q") -> dict:
    return {"repo": repo, "target_id": "t", "target_text": text, "candidates": cands, "relevant_ids": relevant}


def test_recall_packs_greedily_skipping_what_does_not_fit() -> None:
    tokens = {"a": 300, "b": 200, "c": 90, "d": 10}
    assert evaluation.recall_at(["a", "b", "c", "d"], {"b", "c", "d"}, tokens, 400) == pytest.approx(2 / 3)
    assert evaluation.recall_at(["b", "c", "d", "a"], {"b", "c", "d"}, tokens, 400) == 1.0


def test_ndcg_and_mrr_with_binary_gains() -> None:
    ranked = ["x", "r1", "y", "r2"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert evaluation.ndcg_at(ranked, {"r1", "r2"}) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert evaluation.mrr(ranked, {"r2"}) == 0.25
    assert evaluation.mrr(ranked, {"zz"}) == 0.0


def test_repeats_count_once_and_strangers_are_refused() -> None:
    t = target("r", [cand("a"), cand("b")], ["b"])
    assert evaluation.score(t, ["a", "a", "b"])["mrr"] == 0.5
    with pytest.raises(ValueError, match="not a candidate"):
        evaluation.score(t, ["zz"])


def test_overall_is_the_plain_mean_over_repositories() -> None:
    one = target("one", [cand("a"), cand("b")], ["a"])
    two = [target("two", [cand("a"), cand("b")], ["b"]) for _ in range(3)]
    table = evaluation.evaluate(lambda t: ["a", "b"], [one, *two])
    assert table["one"]["mrr"] == 1.0 and table["two"]["mrr"] == 0.5
    assert table["overall"]["mrr"] == 0.75 and table["overall"]["targets"] == 4


def test_rankers_see_only_the_allowed_fields() -> None:
    t = target("r", [{**cand("a", "x"), "author": "someone"}], ["a"])
    text, cands = evaluation.visible(t)
    assert text == "q" and set(cands[0]) == set(evaluation.CANDIDATE_FIELDS)


def test_bm25_is_okapi_with_the_idf_floor() -> None:
    corpus = [["cat", "dog"], ["cat"], ["cat", "fish", "fish"]]
    index = BM25(corpus)
    avg = 2
    idf_fish = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)
    idf_cat = 0.25 * (idf_fish * 2 + (math.log(0.5) - math.log(3.5))) / 3
    expect_fish = idf_fish * 2 * 2.5 / (2 + 1.5 * (0.25 + 0.75 * 3 / avg))
    expect_cat = idf_cat * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 3 / avg))
    assert index.scores(["fish", "cat"])[2] == pytest.approx(expect_fish + expect_cat)


def test_text_helpers() -> None:
    assert words("The Fix for insert_all, refs #694") == ["fix", "insert", "all", "refs", "694"]
    assert issues("Fix (#12), see gh-7 and https://github.com/o/r/issues/99") == {"12", "7", "99"}
    assert informative(["CHANGELOG.md", "docs/index.rst", "pyproject.toml", "httpx/_client.py"]) == ["httpx/_client.py"]
    assert path_words("httpx/_client.py") >= {"httpx", "client"}


def test_ties_are_broken_by_recency_and_every_candidate_is_ranked() -> None:
    cands = [cand("old", "same", age=3), cand("new", "same", age=1), cand("mid", "other", age=2),
             cand("f1", "filler", age=4), cand("f2", "words", age=5)]
    assert rankers.rank(rankers.BM25Ranker(), "same", cands) == ["new", "old", "mid", "f1", "f2"]
    assert rankers.rank(rankers.Recency(), "x", cands) == ["new", "mid", "old", "f1", "f2"]


def test_length_baselines() -> None:
    cands = [cand("long", "fix parser bug", age=1, tokens=90), cand("short", "fix parser", age=2, tokens=9),
             cand("tie", "docs", age=3, tokens=9), cand("none", "unrelated words", age=4, tokens=3),
             cand("f1", "filler", age=5, tokens=50), cand("f2", "more filler", age=6, tokens=60)]
    assert rankers.rank(rankers.get("shortest"), "x", cands) == ["none", "short", "tie", "f1", "f2", "long"]
    per_token = rankers.rank(rankers.get("bm25-per-token"), "parser bug", cands)
    assert per_token[:2] == ["short", "long"] and per_token[2:] == ["tie", "none", "f1", "f2"]


def test_load_order_takes_the_likeliest_then_relevance_per_token() -> None:
    log_odds = np.array([3.0, 2.0, 1.0, 1.0, 0.0, -5.0])
    costs = [500, 10, 400, 20, 10, 10]
    ages = [6, 5, 4, 3, 2, 1]
    # head of two by log-odds; then p/cost: 4 (0.5/10) > 3 (0.73/20) > 2 (0.73/400) > 5 (0.0067/10)
    assert load_order(log_odds, costs, ages, head=2) == [0, 1, 4, 3, 2, 5]
    assert load_order(np.array([1.0, 1.0]), [5, 500], [2, 1], head=2) == [1, 0]
    assert load_order(np.array([1.0, 1.0, 1.0]), [5, 5, 500], [3, 2, 1], head=0) == [1, 0, 2]


def many_candidates(n: int = 40) -> list[dict]:
    topics = ["parser", "cli", "docs", "client", "tests"]
    return [cand(f"c{i}", f"{topics[i % 5]} change {i} refs #{i % 7}", (f"pkg/{topics[i % 5]}.py",),
                 age=i + 1, tokens=5 + (i * 37) % 200) for i in range(n)]


def test_public_rank_is_a_permutation_in_load_order() -> None:
    cands = many_candidates()
    ranked = caw_lab.ranking.rank("fix the parser, refs #3", cands)
    assert sorted(ranked) == sorted(c["id"] for c in cands) and len(set(ranked)) == len(cands)
    scores = rankers.LearnedRanker().scores("fix the parser, refs #3", cands)
    by_id = {c["id"]: i for i, c in enumerate(cands)}
    head = [scores[by_id[cid]] for cid in ranked[:10]]
    assert head == sorted(head, reverse=True) and min(head) >= max(scores[by_id[cid]] for cid in ranked[10:])
    assert caw_lab.ranking.rank("anything", []) == []
    assert caw_lab.ranking.__all__ == ["rank"]


def write_targets(folder: Path) -> list[dict]:
    targets = []
    for repo in ("one/a", "two/b"):
        for k in range(3):
            cands = many_candidates(20 + k)
            relevant = [c["id"] for c in cands if c["files"] == ["pkg/parser.py"]]
            targets.append(target(repo, cands, relevant, text=f"parser fix {k}"))
    with gzip.open(folder / "synthetic.jsonl.gz", "wt") as out:
        out.writelines(json.dumps(t) + "\n" for t in targets)
    return targets


def test_eval_scores_the_public_rank_as_its_learned_ranker(tmp_path: Path) -> None:
    assert evaluation.rank_function("learned") is caw_lab.ranking.rank
    targets = write_targets(tmp_path)
    result = CliRunner().invoke(main, ["context", "eval", "--data", str(tmp_path), "--ranker", "learned"])
    assert result.exit_code == 0, result.output
    table = evaluation.evaluate(lambda t: caw_lab.ranking.rank(*evaluation.visible(t)), targets)["overall"]
    row = next(line for line in result.output.splitlines() if line.startswith("| learned |"))
    assert row == "| learned | " + " | ".join(f"{table[m]:.3f}" for m in evaluation.METRICS) + " |"


@pytest.mark.sqlite_only
def test_task_load_context_loads_prior_tasks_in_the_public_rank_order(client: caw_lab.Client) -> None:
    topics = ["parser", "cli", "docs", "client", "tests"]
    specs = [{"name": f"t{i}", "description": f"{topics[i % 5]} work {i}"} for i in range(16)]
    wf = make_workflow(client, [*specs, {"name": "now", "description": "Fix the parser for quoted names"}])
    for i, spec in enumerate(specs):
        task_id = wf["tasks"][spec["name"]]
        client.call("task_update_status", id=task_id, status="planning")
        client.call("task_update_status", id=task_id, status="in_progress")
        client.call("checkpoint_add", task_id=task_id, type="progress", summary="files",
                    files_changed=[f"pkg/{topics[i % 5]}.py"])
        client.call("task_update_status", id=task_id, status="completed",
                    outcome=f"{topics[i % 5]} done " + "with details " * (i * 7 % 30))
    loaded = client.call("task_load_context", task_id=wf["tasks"]["now"], max_tokens=50_000)
    near = surroundings.gather(client.db, surroundings.read_nearby(client.db, wf["tasks"]["now"]))
    items = [relevance.Item(Entry(t["id"], relevance.prior_item(t, False), "task"), relevance.task_text(t),
                            relevance.task_files(t), t["updated_at"], t) for t in near.prior]
    expected = caw_lab.ranking.rank(relevance.query_of(near.task)[0], relevance.candidates(items))
    assert [p["id"] for p in loaded["prior_tasks"]] == expected


def test_file_features_need_no_target_files() -> None:
    cands = [
        cand("hub", "refactor", ("pkg/core.py",), age=1), cand("hub2", "more", ("pkg/core.py", "CHANGES.md"), age=2),
        cand("lonely", "unrelated", ("pkg/rare.py",), age=3), cand("release", "Release 1.0", ("CHANGELOG.md",), age=4),
    ]
    x = features.matrix("improve core parsing", cands)
    col = {name: x[:, i] for i, name in enumerate(features.NAMES)}
    assert col["hub_prior"][0] > col["hub_prior"][2] == 0
    assert col["no_informative"].tolist() == [0, 0, 0, 1]
    assert col["path_match"][0] > 0 and col["path_match"][2] == 0
    declared = features.matrix("anything", cands, ["pkg/rare.py"])
    assert declared[2, features.NAMES.index("feedback_max")] == 1.0


def test_the_shipped_model_loads_and_is_small() -> None:
    shipped = rankers.load()
    assert shipped is not None and shipped.names == features.NAMES
    assert sum(f.stat().st_size for f in rankers.shipped_path().parent.iterdir()) < 5 * 1024 * 1024


def test_without_a_model_the_learned_ranker_falls_back_to_bm25(tmp_path: Path) -> None:
    cands = [cand("a", "alpha beta"), cand("b", "gamma", age=2)]
    with pytest.warns(RuntimeWarning, match="BM25"):
        scores = rankers.LearnedRanker(str(tmp_path / "missing.json")).scores("gamma", cands)
    assert scores.tolist() == rankers.BM25Ranker().scores("gamma", cands).tolist()


def test_a_model_round_trips_through_json(tmp_path: Path) -> None:
    trained = rankers.LinearModel(features.NAMES, np.zeros(len(features.NAMES)), np.ones(len(features.NAMES)),
                                np.arange(len(features.NAMES), dtype=float), -1.0, {"note": "test"})
    trained.save(tmp_path / "m.json")
    again = rankers.LinearModel.from_dict(json.loads((tmp_path / "m.json").read_text()))
    x = np.ones((2, len(features.NAMES)))
    assert again.decision(x).tolist() == trained.decision(x).tolist() and again.meta == {"note": "test"}


def few_targets(per_file: int) -> list[dict]:
    return list(evaluation.read_targets(DATA, limit=per_file))


@needs_data
def test_training_is_reproducible(tmp_path: Path) -> None:
    """Two processes with different string hashing write the same model file."""
    data = next(iter(evaluation.files_in(DATA)))
    caw = str(Path(sys.executable).with_name("caw"))
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for seed, out in enumerate(outs):
        subprocess.run([caw, "context", "train", "--data", str(data), "--out", str(out), "--limit", "8"],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": str(seed + 1)})
    assert outs[0].read_text() == outs[1].read_text()
    assert rankers.LinearModel.from_dict(json.loads(outs[0].read_text())).meta["targets"] == 8


@needs_data
@pytest.mark.slow
def test_learned_beats_bm25_on_repositories_it_never_saw() -> None:
    examples = training.examples(few_targets(25))
    loro = training.leave_one_repo_out(examples)
    bm25 = evaluation.evaluate(lambda t: rankers.rank(rankers.BM25Ranker(), *evaluation.visible(t)),
                               [e.target for e in examples])
    for metric in ("ndcg@10", "mrr", "recall@800"):
        assert loro["overall"][metric] > bm25["overall"][metric]


@needs_data
def test_eval_command_prints_the_table() -> None:
    data = next(iter(evaluation.files_in(DATA)))
    result = CliRunner().invoke(main, ["context", "eval", "--data", str(data), "--limit", "5",
                                       "--ranker", "bm25", "--ranker", "oracle"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| ")]
    assert lines[0] == "| ranker | recall@400 | recall@800 | recall@1600 | ndcg@10 | mrr |"
    assert lines[1].startswith("| bm25 |")
    assert lines[2].startswith("| oracle |") and lines[2].endswith("| 1.000 | 1.000 |")


def test_tfidf_is_scikit_learns_fitted_on_the_documents_and_the_query() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["fix the parser", "parser cli cli tests", "docs only", "", "unicode névé parser"]
    for query in ("parser cli", "cli cli unknown", "", "zzz"):
        fitted = TfidfVectorizer(analyzer=words, sublinear_tf=True).fit_transform([*docs, query])
        expected = (fitted[:-1] @ fitted[-1].T).toarray().ravel()
        assert similarity.tfidf(query, docs) == pytest.approx(expected, abs=1e-12)


def test_cached_item_words_are_the_documents_words() -> None:
    cands = [*many_candidates(12), cand("p", "Rename", ("pkg/Parser-v2.py", "CHANGELOG.md"), age=13)]
    x = features.matrix("parser v2 rename", cands)
    docs = [similarity.document(c) for c in cands]
    assert x[:, features.NAMES.index("bm25")] == pytest.approx(similarity.bm25("parser v2 rename", docs), abs=1e-12)
