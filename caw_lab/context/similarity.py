"""Lexical similarity of a task's text to context items: BM25 and TF-IDF cosine.

Both index an item as its text plus the paths it touched, so a task that names
``_client.py`` or ``cli`` finds the items that changed those files.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from caw_lab.context.bm25 import BM25
from caw_lab.context.text import words


def document(candidate: dict[str, Any]) -> str:
    return candidate["text"] + "\n" + " ".join(candidate.get("files") or [])


def bm25(query: str, docs: Sequence[str]) -> np.ndarray:
    return BM25([words(d) for d in docs]).scores(words(query))


def tfidf(query: str, docs: Sequence[str]) -> np.ndarray:
    """Cosine similarity of ``query`` to each doc, TF-IDF (sublinear tf) fitted on the docs and the query.

    The definition of scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``, written out as
    BM25 is: tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1 over the n texts, each
    vector L2-normalised. Importing scikit-learn costs a second, which the first context
    load of every server would pay, and its vectoriser took a fifth of a load. Sums are
    ``fsum``: exact whatever the words' order, so equal bags of words score equally.
    """
    bags = [Counter(words(text)) for text in (*docs, query)]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    idf = {word: math.log((1 + len(bags)) / (1 + count)) + 1 for word, count in df.items()}
    weights = [{word: (1 + math.log(count)) * idf[word] for word, count in bag.items()} for bag in bags]
    target = weights.pop()
    target_norm = norm(target)
    if not target_norm:
        return np.zeros(len(docs))
    return np.array([cosine(w, target, target_norm) for w in weights], dtype=float)


def norm(vector: dict[str, float]) -> float:
    return math.sqrt(math.fsum(w * w for w in vector.values()))


def cosine(doc: dict[str, float], target: dict[str, float], target_norm: float) -> float:
    dot = math.fsum(w * doc[word] for word, w in target.items() if word in doc)
    return dot / (norm(doc) * target_norm) if dot else 0.0
