"""The context engine: what an agent reads after its context was cleared, and at what cost.

Modules, one idea each: ``tokens`` (exact, cached counts), ``budget`` (how many tokens,
split how), ``compression`` (the reference's rules for shrinking each part), ``text``,
``bm25``, ``similarity``, ``features``, ``rankers``, ``model``, ``training``,
``evaluation`` and ``report`` (relevance ranking and its benchmark), ``packing``
(filling a slice in ranked order), ``sources`` (reading a task's surroundings),
``loader`` (``task_load_context``), ``summaries`` (cached compressed texts) and ``delta``
(only what changed since an event).
"""
