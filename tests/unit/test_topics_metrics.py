"""Topic stability, diversity and NPMI coherence."""

from __future__ import annotations

import math

import pytest

from common.topics.metrics import jaccard, npmi_coherence, run_similarity, stability, topic_diversity

RUN = [["python", "java", "code"], ["nurse", "patient", "care"], ["steel", "weld", "metal"]]


def test_identical_runs_have_stability_one_whatever_the_topic_order():
    assert stability([RUN, RUN, RUN]) == 1.0
    assert stability([RUN, list(reversed(RUN))], reduce="median") == 1.0


def test_changed_topics_lower_stability():
    other = [["python", "java", "sql"], ["nurse", "ward", "shift"], ["bread", "bake", "oven"]]
    s = run_similarity(RUN, other)
    assert s == pytest.approx((jaccard(RUN[0], other[0]) + jaccard(RUN[1], other[1]) + 0.0) / 3)
    assert 0 < stability([RUN, other]) < 1
    assert run_similarity(RUN, RUN[:2]) == pytest.approx(2 / 3)  # a lost topic counts as 0
    with pytest.raises(ValueError):
        stability([RUN])


def test_diversity():
    assert topic_diversity(RUN) == 1.0
    assert topic_diversity([["a", "b"], ["a", "b"]]) == 0.5


def test_npmi_prefers_words_that_occur_together():
    docs = [["python", "code", "java"]] * 20 + [["nurse", "patient", "care"]] * 20 + [["python", "nurse"]]
    good = npmi_coherence([["python", "code"], ["nurse", "patient"]], docs, top_n=2)
    bad = npmi_coherence([["python", "patient"], ["nurse", "code"]], docs, top_n=2)
    assert good > 0.5 and bad < 0 and good > bad
    assert math.isnan(npmi_coherence([["unknown", "words"]], docs))
