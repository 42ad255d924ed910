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
        return cls.of_parts(docs, [() for _ in docs], {})

    @classmethod
    def of_parts(
        cls, own: Sequence[Sequence[str]], parts: Sequence[Sequence[str]], part_words: dict[str, Sequence[str]]
    ) -> Terms:
        """Documents made of their own words plus named parts whose words many documents share
        (an item's text and its file paths): each part's words are counted once, and added to
        the documents that hold it as one sparse product."""
        own_counts = [Counter(doc) for doc in own]
        names = sorted(part_words)
        part_counts = [Counter(part_words[name]) for name in names]
        vocabulary = {w: i for i, w in enumerate(sorted(set().union(*own_counts, *part_counts)))}
        counts = counts_matrix(own_counts, vocabulary)
        if names:
            which = {name: i for i, name in enumerate(names)}
            holding = counts_matrix([Counter(p) for p in parts], which)
            counts = (counts + holding @ counts_matrix(part_counts, vocabulary)).tocsr()
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


def counts_matrix(counters: Sequence[Counter[str]], columns: dict[str, int]) -> sparse.csr_matrix:
    """One row per counter, its counts in the named columns."""
    indptr = np.zeros(len(counters) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(c) for c in counters])
    indices = np.array([columns[k] for c in counters for k in c], dtype=np.int64)
    data = np.array([n for c in counters for n in c.values()], dtype=float)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(counters), len(columns)))
