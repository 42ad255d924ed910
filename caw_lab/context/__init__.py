"""The context engine: what an agent reads after its context was cleared, and at what cost.

Modules, one idea each:

- ``tokens``: exact token counts, cached by content hash; ``budget``: how many tokens and
  how they are split; ``compression``: the reference's rules for shrinking each part;
  ``packing``: filling a slice in ranked order.
- ``sources``: reading a task's surroundings; ``loader``: ``task_load_context``;
  ``overview``: ``workflow_get_summary``; ``summaries``: cached compressed texts;
  ``delta``: only what changed since an event.
- Relevance: ``text`` (tokenizer, paths, issue numbers), ``bm25``, ``similarity``,
  ``features``, ``rankers``, ``model`` (the shipped model file), ``relevance`` (ranking a
  live workflow's items), and for the benchmark ``evaluation``, ``training``, ``report``.

docs/context.md describes the behaviour; bench/RESULTS.md the measured ranking quality.
"""
