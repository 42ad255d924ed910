"""The context engine: what an agent reads after its context was cleared, and at what cost.

Modules, one idea each:

- ``tokens``: exact token counts, cached by content; ``budget``: how many tokens and
  how they are split; ``compression``: the reference's rules for shrinking each part;
  ``packing``: the load order and filling a slice in it.
- ``sources``: reading a task's surroundings; ``fields`` and ``trail_entries``: the
  current task's fields and checkpoints as costed parts; ``loader``: ``task_load_context``;
  ``overview``: ``workflow_get_summary``; ``summaries``: cached compressed texts;
  ``delta``: only what changed since an event.
- Relevance: ``text`` (tokenizer, paths, issue numbers), ``bm25``, ``similarity``,
  ``features``, ``rankers``, ``model`` (the shipped model file), ``relevance`` (ranking a
  live workflow's items), and for the benchmark ``evaluation``, ``training``, ``report``.
- ``caches``: every cache above, emptied at once.

The public ranker is ``rank``: the learned order ``task_load_context`` loads items in,
callable on any data shaped like the relevance benchmark's. Importing this package stays
cheap (``caw --server`` imports it at start): ``rank`` imports the ranking engine
(numpy, scikit-learn, the model) on its first call.

docs/context.md describes the behaviour; bench/RESULTS.md the measured ranking quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caw_lab.context.model import LinearModel

__all__ = ["rank"]


def rank(target_text: str, candidates: list[dict[str, Any]], *, model: LinearModel | None = None) -> list[str]:
    """Candidate ids in the order ``task_load_context`` would load them, with the learned ranker.

    The relevance benchmark's ranker interface (``/work/shared/data/relevance/README.md``):
    ``target_text`` is the new task's text; each candidate is a dict with exactly ``id``,
    ``text``, ``files``, ``age_rank`` (1 = the newest) and ``tokens`` (what it costs to
    load). The result is a permutation of the candidates' ids: the ten likeliest relevant
    first, by the model's log-odds, then the rest by probability of relevance per token,
    the order in which greedy packing under a token budget takes them (``packing``).
    ``caw context eval`` scores exactly this function as its ``learned`` ranker.

    ``model`` ranks with another trained model (leave-one-repository-out scoring does);
    by default the shipped one. Without an installed model, BM25 order, with a warning.
    """
    from caw_lab.context import rankers

    return rankers.rank(rankers.LearnedRanker(trained=model), target_text, candidates)
