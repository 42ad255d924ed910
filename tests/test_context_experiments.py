"""Ranking experiments: where the data is found, the learned ranker scored from one feature pass,
bootstrap intervals, and plots that label what they show."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

import caw_lab.ranking
from caw_lab.ranking import evaluation, experiments, history, rankers, report, training

WORDS = "parser cli export writer schema table stream docs tests cache index query migrate".split()


def synthetic_targets(repos: int = 3, per_repo: int = 6, candidates: int = 30, seed: int = 0) -> list[dict]:
    """Benchmark-shaped targets: a candidate is relevant when it shares a file with the target's
    hidden files, and its text tends to share the file's word, so rankers have something to find."""
    rng = random.Random(seed)
    out = []
    for r in range(repos):
        for t in range(per_repo):
            topic = rng.choice(WORDS)
            cands = []
            for i in range(candidates):
                word = topic if rng.random() < 0.3 else rng.choice(WORDS)
                text = f"{word} {rng.choice(WORDS)} change {i}"
                cands.append({"id": f"r{r}t{t}c{i}", "text": text, "files": [f"src/{word}.py", "CHANGELOG.md"],
                              "age_rank": i + 1, "tokens": rng.randint(5, 200)})
            relevant = [c["id"] for c in cands if c["files"][0] == f"src/{topic}.py"] or [cands[0]["id"]]
            out.append({"repo": f"owner/repo{r}", "target_id": f"t{r}{t}", "target_text": f"fix the {topic} bug",
                        "candidates": cands, "relevant_ids": relevant})
    return out


def write_data(folder: Path, targets: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "owner__repo.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(t) + "\n" for t in targets)


def test_the_environment_variable_names_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_data(tmp_path / "bench", synthetic_targets(1, 2))
    monkeypatch.setenv(experiments.ENV, str(tmp_path / "bench"))
    found = experiments.locate(tmp_path)
    assert found.path == tmp_path / "bench" and experiments.ENV in found.note


def test_an_empty_or_missing_folder_is_no_data_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for place in (tmp_path / "empty", tmp_path / "missing"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        monkeypatch.setenv(experiments.ENV, str(place))
        found = experiments.locate(tmp_path)
        assert found.path is None and f"${experiments.ENV} is set to {place}" in found.note


def test_without_the_variable_data_beside_a_checkout_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(experiments.ENV, raising=False)
    write_data(tmp_path / "shared" / "data" / "relevance", synthetic_targets(1, 2))
    found = experiments.locate(tmp_path / "checkout" / "notebooks")
    assert found.path == tmp_path / "shared" / "data" / "relevance"


def test_the_sample_size_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(experiments.SAMPLE_ENV, raising=False)
    assert experiments.per_repo() == experiments.DEFAULT_PER_REPO
    monkeypatch.setenv(experiments.SAMPLE_ENV, "12")
    assert experiments.per_repo() == 12
    for bad in ("many", "-3", "1", "2.5"):
        monkeypatch.setenv(experiments.SAMPLE_ENV, bad)
        with pytest.raises(ValueError, match=experiments.SAMPLE_ENV):
            experiments.per_repo()


def test_scoring_from_built_features_is_exactly_the_public_rank() -> None:
    examples = training.examples(synthetic_targets())
    models = [training.fit(examples), *training.fold_models(examples).values()]
    if rankers.load() is not None:
        models.append(rankers.load())
    for model in models:
        for e in examples:
            assert training.ranked(model, e) == caw_lab.ranking.rank(*evaluation.visible(e.target), model=model)


def test_a_fold_model_never_trains_on_the_repository_it_scores() -> None:
    examples = training.examples(synthetic_targets())
    folds = training.fold_models(examples)
    assert sorted(folds) == ["owner/repo0", "owner/repo1", "owner/repo2"]
    for held_out, model in folds.items():
        assert held_out not in model.meta["repos"] and len(model.meta["repos"]) == 2
        assert model.meta["targets"] == 12


def test_per_target_scores_average_to_the_benchmark_table() -> None:
    targets = synthetic_targets()
    scores = experiments.score(targets, baselines=("recency", "bm25"))
    assert set(scores.values) == {"recency", "bm25", "learned-in-sample", "learned", "learned-loro", "oracle"}
    summary = experiments.summarise(scores)
    for name in ("recency", "bm25", "oracle"):
        table = evaluation.run(name, targets)
        for scope in ("overall", "owner/repo1"):
            for metric in ("recall@400", "recall@800", "ndcg@10", "mrr"):
                assert summary[name][scope].mean[scores.column(metric)] == pytest.approx(table[scope][metric])


def test_learned_loro_needs_two_repositories() -> None:
    scores = experiments.score(synthetic_targets(repos=1), baselines=())
    assert "learned-loro" not in scores.values and "learned-in-sample" in scores.values


def test_intervals_hold_the_mean_and_narrow_with_more_targets() -> None:
    rng = np.random.default_rng(1)
    widths = []
    for n in (10, 1000):
        values = rng.random((n, 2))
        values[:, 1] = 0.5  # a constant column has no spread
        est = experiments.bootstrap(values, np.array(["a", "b"] * (n // 2)))
        for e in est.values():
            assert np.all(e.low <= e.mean) and np.all(e.mean <= e.high)
            assert e.low[1] == e.high[1] == 0.5
        widths.append(est["overall"].high[0] - est["overall"].low[0])
    assert widths[1] < widths[0] / 5


def test_a_ranker_against_itself_differs_by_exactly_nothing() -> None:
    scores = experiments.score(synthetic_targets(), baselines=("bm25",))
    gap = experiments.difference(scores, "bm25", "bm25")
    assert all(np.all(e.mean == 0) and np.all(e.low == 0) and np.all(e.high == 0) for e in gap.values())


def test_the_table_gives_each_mean_with_its_interval() -> None:
    scores = experiments.score(synthetic_targets(), baselines=("recency",))
    text = experiments.table(experiments.summarise(scores), ["ndcg@10", "mrr"], scores.columns)
    lines = text.splitlines()
    assert lines[0] == "| ranker | ndcg@10 | mrr |" and lines[1] == "|---|---:|---:|"
    assert lines[-1].startswith("| oracle | 1.000 [1.00, 1.00] | 1.000 [1.00, 1.00] |")


def test_a_gap_table_has_a_row_per_scope_with_signed_figures() -> None:
    scores = experiments.score(synthetic_targets(), baselines=("recency", "bm25"))
    gap = experiments.difference(scores, "recency", "oracle")
    lines = experiments.gap_table(gap, ["mrr"], scores.columns).splitlines()
    assert lines[:2] == ["| scope | targets | mrr |", "|---|---:|---:|"]
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| overall", *(f"| owner/repo{i}" for i in range(3))]
    assert all(float(line.split(" | ")[2].split(" [")[0]) <= 0 for line in lines[2:])  # nothing beats the oracle
    assert list(experiments.summarise(scores, ["oracle", "nope", "bm25"])) == ["oracle", "bm25"]


def test_the_top_of_a_list_marks_the_relevant_items() -> None:
    target = synthetic_targets(1, 1)[0]
    order = evaluation.oracle(target)
    lines = report.top_of_list(target, order, count=3).splitlines()
    assert lines[0] == f"**owner/repo0**: {target['target_text']!r}"
    assert len(lines) == 2 + 2 + 3 and all(" | yes | " in line for line in lines[4:])


def texts(fig) -> set[str]:
    found = {t.get_text() for ax in fig.axes for t in [ax.title, ax.xaxis.label, ax.yaxis.label]}
    return found | {t.get_text() for legend in fig.legends for t in legend.get_texts()}


def test_the_plots_label_their_axes_and_rankers() -> None:
    scores = experiments.score(synthetic_targets(), baselines=("recency", "bm25"))
    summary = experiments.summarise(scores)
    names = ["recency", "bm25", "learned-loro", "oracle"]
    curves = report.recall_curves(summary, experiments.CURVE_BUDGETS, names)
    assert {"overall (18 targets)", "repo0 (6 targets)", "token budget"} <= texts(curves)
    assert set(names) <= texts(curves)
    bars = report.metric_bars(summary, scores.columns, names)
    assert {"NDCG@10", "MRR", *names} <= texts(bars)
    gaps = {"learned-loro minus bm25": experiments.difference(scores, "learned-loro", "bm25")}
    assert {"NDCG@10", "learned-loro minus bm25"} <= texts(report.differences(gaps, scores.columns, ["ndcg@10"]))
    folds = {k: m for k, m in scores.models.items() if k.startswith("without")}
    weights = report.weights(scores.models["learned-in-sample"], folds, "in-sample model")
    assert {"without owner/repo0", "in-sample model"} <= texts(weights)
    assert [t.get_text() for t in weights.axes[0].get_yticklabels()][-1] in training.features.NAMES
    for fig in (curves, bars, weights):
        png = io.BytesIO()
        fig.savefig(png, format="png")
        assert png.getvalue().startswith(b"\x89PNG")


def git(repo: Path, *args: str, author: str = "Dev <dev@example.com>") -> None:
    name, email = author[:-1].split(" <")
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "PATH": os.environ["PATH"], "HOME": str(repo)}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def commit(repo: Path, message: str, files: list[str], author: str = "Dev <dev@example.com>") -> None:
    for name in files:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.read_text() + "x\n" if path.exists() else "x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, author=author)


def test_targets_from_git_history_follow_the_benchmark_recipe(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(12):  # the older work: parser and writer changes, every one also touching the changelog
        commit(repo, f"parser step {i}" if i % 2 else f"writer step {i}",
               [f"src/{'parser' if i % 2 else 'writer'}.py", "CHANGELOG.md"])
    commit(repo, "huge reformat", [f"src/gen{i}.py" for i in range(31)])  # over 30 files: not a task
    commit(repo, "bump deps", ["src/parser.py"], author="dependabot[bot] <bot@example.com>")
    commit(repo, "release notes only", ["CHANGELOG.md"])  # only stop-listed files: never a target
    commit(repo, "fix the parser", ["src/parser.py"])
    found = list(history.targets(repo, window=10))
    newest = found[0]
    assert newest["repo"] == "local/proj" and newest["target_text"] == "fix the parser"
    texts_ = [c["text"] for c in newest["candidates"]]
    assert texts_ == ["release notes only", "bump deps", *(f"{'parser' if i % 2 else 'writer'} step {i}"
                                                           for i in range(11, 3, -1))]
    assert [c["age_rank"] for c in newest["candidates"]] == list(range(1, 11))
    by_text = {c["text"]: c["id"] for c in newest["candidates"]}
    relevant = ("bump deps", *(f"parser step {i}" for i in (11, 9, 7, 5)))
    assert set(newest["relevant_ids"]) == {by_text[t] for t in relevant}
    assert all(c["tokens"] == history.tokens(c["text"]) > 0 for c in newest["candidates"])
    # a bot's commit is a candidate, never a target; nor is one touching only stop-listed files
    assert [t["target_text"] for t in found] == ["fix the parser", "parser step 11", "writer step 10"]
    assert all(len(t["candidates"]) == 10 for t in found)
    assert len(list(history.targets(repo, limit=1, window=10))) == 1
    git(repo, "remote", "add", "origin", "https://example.com/acme/widgets.git")
    assert next(history.targets(repo, window=10))["repo"] == "local/widgets"


def test_without_the_benchmark_the_sample_comes_from_git_history(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(experiments.ENV, str(tmp_path))
    bare = tmp_path / "not-a-checkout"
    bare.mkdir()
    skipped = experiments.sample(experiments.locate(tmp_path), 4, checkout=bare)
    assert skipped.targets == [] and "Skipping the ranking experiments" in skipped.note
    assert "not running from a git checkout" in skipped.note
    short = tmp_path / "short"
    short.mkdir()
    git(short, "init", "-q", "-b", "main")
    commit(short, "first", ["a.py"])
    skipped = experiments.sample(experiments.locate(tmp_path), 4, checkout=short)
    assert skipped.targets == [] and "too short a history" in skipped.note
