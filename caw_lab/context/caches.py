"""Every cache the context engine keeps, and how to empty them all (a cold start on demand).

- the summary cache: compressed sources in ``context_summaries`` (``summaries``);
- per process: token counts by content (``tokens.counter``), the loaded relevance
  model (``model.load``), workflow snapshots by feed head (``sources``), the
  query-free work of ranking a set of items (``corpus``) and checkpoints' entries
  (``trail_entries``), and whole answers by question and feed head (``answers``).

Nothing is lost by clearing them: each is rebuilt from its source on the next read. The
context benchmark (``bench/context.py``) clears them to time a cold load.
"""

from __future__ import annotations

from caw_lab.context import answers, corpus, model, sources, summaries, tokens, trail_entries
from caw_lab.store.backend import Backend


def clear(db: Backend) -> None:
    answers.clear()
    summaries.clear(db)
    tokens.clear()
    model.load.cache_clear()
    sources.clear()
    corpus.clear()
    trail_entries.clear()
