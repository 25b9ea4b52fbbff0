"""Class-based TF-IDF (c-TF-IDF): which words characterise each topic, not each document.

All documents of a class (topic) are joined into one "class document"; a word's weight in a
class is its frequency in that class (normalised by the class length) times
``log(1 + A / f_w)``, where ``A`` is the average number of words per class and ``f_w`` the
word's frequency over all classes (Grootendorst's formulation, as in BERTopic). Words frequent
in one topic but rare elsewhere score highest.

Written here (a dozen lines over scikit-learn's ``CountVectorizer``) rather than taken from
BERTopic because BERTopic would add numba/umap/hdbscan/plotly at import, pickles its models
against its own version, and we need paragraph-level clustering aggregated back to postings,
which its fit/transform does not give us directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer


def class_counts(doc_term: sp.spmatrix, labels: Sequence[int], classes: Sequence[int]) -> sp.csr_matrix:
    """Word counts per class: sum of the document rows whose label is that class (row order = ``classes``)."""
    labels = np.asarray(labels)
    index = {c: i for i, c in enumerate(classes)}
    rows = np.array([index.get(int(lab), -1) for lab in labels])
    keep = rows >= 0
    member = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], np.flatnonzero(keep))), shape=(len(classes), doc_term.shape[0])
    )
    return (member @ sp.csr_matrix(doc_term)).tocsr()


def ctfidf(counts: sp.spmatrix) -> sp.csr_matrix:
    """c-TF-IDF weights from a (classes x words) count matrix; rows are classes."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    class_len = np.asarray(counts.sum(axis=1)).ravel()
    tf = sp.diags(1.0 / np.maximum(class_len, 1.0)) @ counts
    word_freq = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = class_len.mean() if len(class_len) else 0.0
    idf = np.log1p(avg_words / np.maximum(word_freq, 1.0))
    return sp.csr_matrix(tf @ sp.diags(idf))


def top_words(weights: sp.spmatrix | np.ndarray, vocab: Sequence[str], n: int = 10) -> list[list[tuple[str, float]]]:
    """The ``n`` highest-weighted words of each row, with their weights (zero weights left out)."""
    dense = weights.toarray() if sp.issparse(weights) else np.asarray(weights)
    out = []
    for row in dense:
        order = np.argsort(-row, kind="stable")[:n]
        out.append([(vocab[j], float(row[j])) for j in order if row[j] > 0])
    return out


def fit_ctfidf(
    texts: Sequence[str],
    labels: Sequence[int],
    vectorizer: CountVectorizer | None = None,
    n_words: int = 10,
    skip_labels: Sequence[int] = (-1,),
) -> dict[int, list[tuple[str, float]]]:
    """Top c-TF-IDF words of each class of ``texts`` (classes in ``skip_labels`` are left out, e.g. noise)."""
    vec = vectorizer or CountVectorizer(stop_words="english")
    dt = vec.fit_transform(texts)
    classes = sorted({int(lab) for lab in labels} - set(skip_labels))
    words = top_words(ctfidf(class_counts(dt, labels, classes)), vec.get_feature_names_out().tolist(), n_words)
    return dict(zip(classes, words, strict=True))
