"""Okapi BM25 over a small corpus, scored for one query at a time.

Written out rather than imported because the rankers need every document's score as a
vector, fast: the per-term weights are a sparse matrix built once per corpus, and a
query is one product with it. Same definition as ``rank_bm25.BM25Okapi`` (k1 = 1.5,
b = 0.75, negative IDFs floored at 0.25 x the mean IDF, a query word counted as often as
it occurs), which the relevance benchmark's baseline uses, so our bm25 row reproduces
the published one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from caw_lab.context.terms import Terms

K1 = 1.5
B = 0.75
EPSILON = 0.25


class BM25:
    def __init__(self, corpus: Sequence[Sequence[str]] | Terms, k1: float = K1, b: float = B) -> None:
        self.terms = corpus if isinstance(corpus, Terms) else Terms.of(corpus)
        counts = self.terms.counts
        lengths = self.terms.lengths
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9)) if counts.shape[0] else lengths
        self.weights = counts.copy()
        tf = self.weights.data
        self.weights.data = tf * (k1 + 1) / (tf + np.repeat(norm, np.diff(counts.indptr)))
        self.idf = self._idf(counts.shape[0], self.terms.df)

    @staticmethod
    def _idf(n: int, df: np.ndarray) -> np.ndarray:
        idf = np.log(n - df + 0.5) - np.log(df + 0.5)
        floor = EPSILON * idf.mean() if len(idf) else 0.0
        return np.where(idf >= 0, idf, floor)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        known, _ = self.terms.query(query)
        return self.weights @ (known * self.idf)
