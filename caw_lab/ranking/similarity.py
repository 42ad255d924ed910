"""Lexical similarity of a query to documents: their words, a term matrix, Okapi BM25 and TF-IDF cosine.

**Words** (``words``): lowercase ``[a-z0-9]+`` runs minus common English stop words, the
relevance benchmark's baselines' rule. BM25, TF-IDF and the learned ranker's features all
split text with it, so that a word means the same thing to each of them.

**Documents as a sparse matrix of term counts** (``Terms``), the shared input of BM25 and
TF-IDF. Scoring a query against a thousand items one word and one item at a time is
Python loops; as a (documents x words) sparse matrix it is one matrix-vector product. The
vocabulary is sorted, so every sum runs in one order whatever the string hashing.

**BM25** (``BM25``) is written out rather than imported because the rankers need every
document's score as a vector, fast: the per-term weights are a sparse matrix built once per
corpus, and a query is one product with it. Same definition as ``rank_bm25.BM25Okapi``
(k1 = 1.5, b = 0.75, negative IDFs floored at 0.25 x the mean IDF, a query word counted as
often as it occurs), which the relevance benchmark's baseline uses, so our bm25 row
reproduces the published one.

**TF-IDF** (``TfIdf``) as scikit-learn computes it: the benchmark's baseline fits
``TfidfVectorizer(sublinear_tf=True)`` on the documents *and* the query, so the query
shifts every IDF (one more document, and one more for each of its words) and with them
every document's norm. Refitting a vectorizer per query re-reads every document; here the
documents' sublinear term frequencies are kept and each query costs two matrix-vector
products, with the same numbers: idf = ln((1 + n) / (1 + df)) + 1, vectors L2-normalised.

Both index an item as its text plus the paths it touched (``document``), so a task that
names ``_client.py`` or ``cli`` finds the items that changed those files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have in into is it its of on or that the their then "
    "there these they this to was were will with".split()
)
K1 = 1.5
B = 0.75
EPSILON = 0.25


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


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


def document(candidate: dict[str, Any]) -> str:
    return candidate["text"] + "\n" + " ".join(candidate.get("files") or [])


def bm25(query: str, docs: Sequence[str]) -> np.ndarray:
    return BM25([words(d) for d in docs]).scores(words(query))


def tfidf(query: str, docs: Sequence[str]) -> np.ndarray:
    """Cosine similarity of ``query`` to each doc, TF-IDF (sublinear tf) fitted on the docs and the query."""
    return TfIdf(Terms.of([words(d) for d in docs])).scores(words(query))
