"""Ranking context items for a task: a library whose public function is ``rank``.

``rank(target_text, candidates)`` is the learned order ``task_load_context`` loads items
in, callable on any data shaped like the relevance benchmark's. Beside it, the offline
side: ``evaluation`` (the benchmark's data, metrics and the comparison table ``caw context
eval`` prints), ``training`` (fitting the model; it alone imports scikit-learn),
``experiments`` (per-target scores and bootstrap intervals for the
notebook), ``history`` (benchmark-shaped targets from a local git history) and ``report``
(the notebook's plots; the only module that imports matplotlib).

Modules, one idea each: ``similarity`` (words, term matrices, BM25, TF-IDF), ``features``
(the learned ranker's features, from texts, files and issue references, their query-free
half built once per set of items), ``rankers`` (the rankers, the shipped model, the load
order). A service-level library: it imports nothing from ``caw_lab.context`` or above.
bench/RESULTS.md has the measured ranking quality.
"""

from __future__ import annotations

from typing import Any

from caw_lab.ranking.rankers import LearnedRanker, LinearModel
from caw_lab.ranking.rankers import rank as rank_with

__all__ = ["rank"]


def rank(target_text: str, candidates: list[dict[str, Any]], *, model: LinearModel | None = None) -> list[str]:
    """Candidate ids in the order ``task_load_context`` would load them, with the learned ranker.

    The relevance benchmark's ranker interface (``/work/shared/data/relevance/README.md``):
    ``target_text`` is the new task's text; each candidate is a dict with exactly ``id``,
    ``text``, ``files``, ``age_rank`` (1 = the newest) and ``tokens`` (what it costs to
    load). The result is a permutation of the candidates' ids: the ten likeliest relevant
    first, by the model's log-odds, then the rest by probability of relevance per token,
    the order in which greedy packing under a token budget takes them (``rankers.load_order``).
    ``caw context eval`` scores exactly this function as its ``learned`` ranker.

    ``model`` ranks with another trained model (leave-one-repository-out scoring does);
    by default the shipped one. Without an installed model, BM25 order, with a warning.
    """
    return rank_with(LearnedRanker(trained=model), target_text, candidates)
