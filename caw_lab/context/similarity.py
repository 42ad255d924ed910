"""Lexical similarity of a task's text to context items: BM25 and TF-IDF cosine.

Both index an item as its text plus the paths it touched, so a task that names
``_client.py`` or ``cli`` finds the items that changed those files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from caw_lab.context.bm25 import BM25
from caw_lab.context.terms import Terms
from caw_lab.context.text import words
from caw_lab.context.tfidf import TfIdf


def document(candidate: dict[str, Any]) -> str:
    return candidate["text"] + "\n" + " ".join(candidate.get("files") or [])


def bm25(query: str, docs: Sequence[str]) -> np.ndarray:
    return BM25([words(d) for d in docs]).scores(words(query))


def tfidf(query: str, docs: Sequence[str]) -> np.ndarray:
    """Cosine similarity of ``query`` to each doc, TF-IDF (sublinear tf) fitted on the docs and the query."""
    return TfIdf(Terms.of([words(d) for d in docs])).scores(words(query))
