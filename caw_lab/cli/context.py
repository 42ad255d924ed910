"""``caw context``: load a task's context, train the relevance model, evaluate rankers."""

from __future__ import annotations

from pathlib import Path

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json
from caw_lab.ranking import evaluation


@main.group()
def context() -> None:
    """Context loading: what an agent reads after its context was cleared."""


@context.command()
@click.argument("task_id")
@click.option("--max-tokens", type=click.IntRange(1), help="Token budget; adaptive when left out.")
@click.option("--since-seq", type=click.IntRange(0), help="Only what changed since this event (delta loading).")
def load(task_id: str, max_tokens: int | None, since_seq: int | None) -> None:
    """Print task_load_context for TASK_ID as JSON."""
    params = {"task_id": task_id, "max_tokens": max_tokens, "since_seq": since_seq}
    with open_client() as client:
        echo_json(client.call("task_load_context", **{k: v for k, v in params.items() if v is not None}))


@context.command()
@click.option("--data", "data", required=True, type=click.Path(exists=True),
              help="Relevance data: a .jsonl.gz or its directory.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model (JSON).")
@click.option("--limit", type=click.IntRange(1), help="Use only the first N targets of each file.")
def train(data: str, out: str, limit: int | None) -> None:
    """Train the relevance model on all of DATA and write it to OUT (same data, same file)."""
    from caw_lab.ranking import training  # scikit-learn, for this command alone

    examples = training.examples(evaluation.read_targets(data, limit))
    trained = training.fit(examples, {"data": sorted(p.name for p in evaluation.files_in(data))})
    trained.save(out)
    click.echo(f"trained on {len(examples)} targets from {len(trained.meta['repos'])} repositories -> {Path(out)}")


@context.command("eval")
@click.option("--data", "data", required=True, type=click.Path(exists=True),
              help="Relevance data: a .jsonl.gz or its directory.")
@click.option("--ranker", "names", multiple=True, type=click.Choice(evaluation.NAMES),
              help="Evaluate only this ranker (repeatable); default all.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="A model file instead of the shipped one.")
@click.option("--limit", type=click.IntRange(1), help="Use only the first N targets of each file.")
@click.option("--per-repo", is_flag=True, help="Also print a table for each repository.")
def evaluate(data: str, names: tuple[str, ...], model_path: str | None, limit: int | None, per_repo: bool) -> None:
    """Print recall@400/800/1600, NDCG@10 and MRR of the rankers, as the data's README defines them.

    learned is caw_lab.ranking.rank, the order task_load_context loads in, with the
    shipped model (training-set numbers on its own data); learned-loro ranks the same way
    with a model trained on all repositories but one, scored on the one left out.
    """
    targets = list(evaluation.read_targets(data, limit))
    results = evaluation.compare(names or evaluation.NAMES, targets, model_path)
    for scope in evaluation.scopes(results) if per_repo else ["overall"]:
        count = int(next(iter(results.values()))[scope]["targets"])
        click.echo(f"\n{scope} ({count} targets)\n")
        click.echo(evaluation.markdown(results, scope))
