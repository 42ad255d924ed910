"""Documents as a sparse matrix of term counts, the shared input of BM25 and TF-IDF.

Scoring a query against a thousand items one word and one item at a time is Python
loops; as a (documents x words) sparse matrix it is one matrix-vector product. The
vocabulary is sorted, so every sum runs in one order whatever the string hashing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Terms:
    vocabulary: dict[str, int]
    counts: sparse.csr_matrix

    @classmethod
    def of(cls, docs: Sequence[Sequence[str]]) -> Terms:
        per_doc = [Counter(doc) for doc in docs]
        vocabulary = {w: i for i, w in enumerate(sorted(set().union(*per_doc)))}
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c in per_doc])
        indices = np.array([vocabulary[w] for c in per_doc for w in c], dtype=np.int64)
        data = np.array([n for c in per_doc for n in c.values()], dtype=float)
        counts = sparse.csr_matrix((data, indices, indptr), shape=(len(docs), len(vocabulary)))
        counts.sort_indices()
        return cls(vocabulary, counts)

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray(self.counts.sum(axis=1)).ravel()

    @property
    def df(self) -> np.ndarray:
        """How many documents contain each word."""
        return np.bincount(self.counts.indices, minlength=len(self.vocabulary)).astype(float)

    def query(self, words: Sequence[str]) -> tuple[np.ndarray, Counter[str]]:
        """A query's counts over the vocabulary, and the counts of its words the documents lack."""
        known = np.zeros(len(self.vocabulary))
        unknown: Counter[str] = Counter()
        for word in words:
            column = self.vocabulary.get(word)
            if column is None:
                unknown[word] += 1
            else:
                known[column] += 1
        return known, unknown
