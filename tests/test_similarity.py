"""The written-out TF-IDF scores exactly as scikit-learn's vectoriser, which it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from caw_lab.ranking.similarity import tfidf, words

VOCABULARY = ["client", "cli", "http", "path", "file", "the", "of", "x1", "tests", "docs", "fix", "é"]
texts = st.lists(st.sampled_from(VOCABULARY), max_size=25).map(" ".join)


def sklearn_tfidf(query: str, docs: list[str]) -> np.ndarray:
    vectorizer = TfidfVectorizer(analyzer=words, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([*docs, query])
    except ValueError:  # no word anywhere
        return np.zeros(len(docs))
    return (matrix[:-1] @ matrix[-1].T).toarray().ravel()


@settings(max_examples=300, deadline=None)
@given(query=texts, docs=st.lists(texts, max_size=30))
def test_tfidf_equals_scikit_learn(query: str, docs: list[str]) -> None:
    ours = tfidf(query, docs)
    assert ours.shape == (len(docs),)
    np.testing.assert_allclose(ours, sklearn_tfidf(query, docs), rtol=0, atol=1e-12)


@given(doc=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=25), query=texts)
def test_the_same_words_in_any_order_score_the_same(doc: list[str], query: str) -> None:
    scores = tfidf(query, [" ".join(doc), " ".join(reversed(doc)), "unrelated words"])
    assert scores[0] == scores[1]
