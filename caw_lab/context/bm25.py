"""Okapi BM25 over a small corpus, scored for one query at a time.

Written out rather than imported because it is twenty lines and the rankers need its
scores for every document as a vector. Same definition as ``rank_bm25.BM25Okapi``
(k1 = 1.5, b = 0.75, negative IDFs floored at 0.25 x the mean IDF), which the relevance
benchmark's baseline uses, so our bm25 row reproduces the published one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

K1 = 1.5
B = 0.75
EPSILON = 0.25


class BM25:
    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.freqs = [Counter(doc) for doc in corpus]
        lengths = np.array([len(doc) for doc in corpus], dtype=float)
        self.norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9)) if len(corpus) else lengths
        self.idf = self._idf(len(corpus))

    def _idf(self, n: int) -> dict[str, float]:
        df: Counter[str] = Counter()
        for freq in self.freqs:
            df.update(freq.keys())
        idf = {w: math.log(n - d + 0.5) - math.log(d + 0.5) for w, d in df.items()}
        floor = EPSILON * (sum(idf.values()) / len(idf)) if idf else 0.0
        return {w: (v if v >= 0 else floor) for w, v in idf.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(self.freqs))
        for word in query:
            weight = self.idf.get(word)
            if weight is None:
                continue
            tf = np.array([f.get(word, 0) for f in self.freqs], dtype=float)
            out += weight * tf * (self.k1 + 1) / (tf + self.norm)
        return out
