"""TF-IDF cosine similarity of a query to each document, as scikit-learn computes it.

The relevance benchmark's baseline fits ``TfidfVectorizer(sublinear_tf=True)`` on the
documents *and* the query, so the query shifts every IDF (one more document, and one
more for each of its words) and with them every document's norm. Refitting a vectorizer
per query re-reads every document; here the documents' sublinear term frequencies are
kept as a sparse matrix (``Terms``) and each query costs two matrix-vector products,
with the same numbers: idf = ln((1 + n) / (1 + df)) + 1, vectors L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from caw_lab.context.terms import Terms


class TfIdf:
    def __init__(self, terms: Terms) -> None:
        self.terms = terms
        self.sublinear = terms.counts.copy()
        self.sublinear.data = 1 + np.log(self.sublinear.data)
        self.squared = self.sublinear.multiply(self.sublinear).tocsr()
        self.df = terms.df

    def scores(self, query: Sequence[str]) -> np.ndarray:
        known, unknown = self.terms.query(query)
        n = self.terms.counts.shape[0] + 1
        idf = np.log((1 + n) / (1 + self.df + (known > 0))) + 1
        weights = np.zeros_like(known)
        present = known > 0
        weights[present] = (1 + np.log(known[present])) * idf[present]
        unknown_idf = np.log((1 + n) / 2) + 1
        query_norm = np.sqrt(weights @ weights + sum(((1 + np.log(c)) * unknown_idf) ** 2 for c in unknown.values()))
        doc_norms = np.sqrt(self.squared @ (idf * idf))
        dots = self.sublinear @ (weights * idf)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = dots / (doc_norms * query_norm)
        return np.where((doc_norms > 0) & (query_norm > 0), out, 0.0)
