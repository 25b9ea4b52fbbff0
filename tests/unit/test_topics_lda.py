"""LDA on shuffled orders and LDADE tuning (small budget, small themed collection)."""

from __future__ import annotations

import pytest
from topic_collection import themed_collection

from common.topics.lda import LDAConfig, LDAParams, fit_lda, lda_top_words, shuffled_runs, tune_ldade, vectorize
from common.topics.metrics import stability

CFG = LDAConfig(max_features=300, min_df=1, max_iter=5, k_bounds=(2, 6), tune_runs=2, popsize=2, generations=1,
                tune_max_docs=None, seed=3)


@pytest.fixture(scope="module")
def bow():
    texts, _ = themed_collection(per_theme=10)
    return vectorize(texts, CFG)


def test_vectorize_drops_stop_words_and_placeholders():
    dt, vocab = vectorize(["We need a <ORGANIZATION> welder", "The nurse at <ADDRESS> helps"], CFG)
    assert dt.shape == (2, len(vocab))
    assert "organization" not in vocab and "the" not in vocab and "welder" in vocab


def test_same_seed_and_order_gives_identical_topics_and_stability_one(bow):
    dt, vocab = bow
    a = lda_top_words(fit_lda(dt, LDAParams(n_topics=3), max_iter=5, seed=1), vocab)
    b = lda_top_words(fit_lda(dt, LDAParams(n_topics=3), max_iter=5, seed=1), vocab)
    assert a == b and stability([a, b]) == 1.0
    runs, models = shuffled_runs(dt, vocab, LDAParams(n_topics=3), n_runs=3, seed=5, top_n=8, max_iter=5)
    assert len(runs) == 3 and all(len(r) == 3 and len(r[0]) == 8 for r in runs)
    assert 0.0 <= stability(runs) <= 1.0


def test_ldade_searches_within_bounds_and_keeps_the_best(bow):
    dt, vocab = bow
    seen = []
    res = tune_ldade(dt, vocab, CFG, on_eval=seen.append)
    assert CFG.k_bounds[0] <= res.params.n_topics <= CFG.k_bounds[1]
    assert CFG.alpha_bounds[0] <= res.params.alpha <= CFG.alpha_bounds[1]
    assert len(res.evaluations) == len(seen) >= 6  # population of 2 x 3, then one generation
    assert res.score == pytest.approx(max(e["objective"] for e in res.evaluations))
    for e in res.evaluations:
        assert e["objective"] == pytest.approx(e["median_stability"] * e["diversity"])
    # the library default (k=10 clipped into the bounds -> 6, priors 1/k) is the first candidate tried
    first = res.evaluations[0]
    assert first["n_topics"] == 6 and first["alpha"] == pytest.approx(1 / 6) and first["eta"] == pytest.approx(1 / 6)
    assert res.as_dict()["evaluations"] == len(seen)
