"""c-TF-IDF on a tiny hand-made collection whose characteristic words are known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from common.topics.ctfidf import class_counts, ctfidf, fit_ctfidf, top_words

DOCS = [
    "python code python team",
    "python developer code review team",
    "nurse patient nurse team",
    "patient ward nurse shifts team",
    "welding metal welding team",
    "steel welding torch metal team",
]
LABELS = [0, 0, 1, 1, 2, 2]


def test_top_words_are_the_words_specific_to_each_class():
    top = fit_ctfidf(DOCS, LABELS, n_words=2)
    assert [w for w, _ in top[0]] == ["python", "code"]
    assert [w for w, _ in top[1]] == ["nurse", "patient"]
    assert [w for w, _ in top[2]] == ["welding", "metal"]
    # "team" is in every document: every class-specific word outranks it
    for words in fit_ctfidf(DOCS, LABELS, n_words=20).values():
        assert [w for w, _ in words][-1] == "team"


def test_weights_follow_the_formula():
    counts = sp.csr_matrix(np.array([[3, 1, 0], [0, 1, 4]]))
    w = ctfidf(counts).toarray()
    class_len = np.array([4, 5])
    avg = class_len.mean()
    freq = np.array([3, 2, 4])
    expected = counts.toarray() / class_len[:, None] * np.log1p(avg / freq)[None, :]
    np.testing.assert_allclose(w, expected)
    assert top_words(w, ["a", "b", "c"], 1) == [[("a", pytest.approx(expected[0, 0]))], [("c", pytest.approx(expected[1, 2]))]]


def test_noise_label_is_left_out_and_class_counts_sum_rows():
    dt = sp.csr_matrix(np.array([[1, 0], [2, 1], [0, 5]]))
    counts = class_counts(dt, [0, -1, 0], [0])
    np.testing.assert_array_equal(counts.toarray(), [[1, 5]])
    assert set(fit_ctfidf(DOCS, [0, 0, -1, -1, 2, 2])) == {0, 2}
