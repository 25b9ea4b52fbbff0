"""SkillBERT pair features on hand-made inputs whose answers are known, and the leakage rule."""

from __future__ import annotations

import numpy as np
import pytest

from common.groups import features as gf


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# four known skills in 2-d; groups: A = {0, 1}, B = {2, 3}, skill 1 is also in B
K = _unit([[1, 0], [0.8, 0.6], [0, 1], [-0.6, 0.8]])
Y = np.array([[1, 0], [1, 1], [0, 1], [0, 1]], dtype=np.uint8)


def test_topk_similarity_known_values_and_self_left_out():
    q = _unit([[1, 0]])
    out = gf.topk_group_similarity(q, K, Y, np.array([-1]))
    # group A: sims 1.0 and 0.8 -> top1 1.0, top2 0.9, top3 (only 2 members) 0.9
    np.testing.assert_allclose(out[0, 0], [1.0, 0.9, 0.9], atol=1e-6)
    # group B: sims 0.8 (skill 1), 0.0, -0.6
    np.testing.assert_allclose(out[0, 1], [0.8, 0.4, (0.8 + 0 - 0.6) / 3], atol=1e-6)
    # the same vector as known skill 0 (a training skill): itself is left out of group A
    own = gf.topk_group_similarity(K[:1], K, Y, np.array([0]))
    np.testing.assert_allclose(own[0, 0], [0.8, 0.8, 0.8], atol=1e-6)
    np.testing.assert_allclose(own[0, 1], out[0, 1], atol=1e-6)


def test_topk_group_with_no_other_member_is_minus_one():
    Y1 = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], dtype=np.uint8)
    own = gf.topk_group_similarity(K[:1], K, Y1, np.array([0]))
    assert (own[0, 0] == -1).all()


def test_nearest_known_excludes_self():
    idx, sims = gf.nearest_known(K[:1], K, np.array([0]), k=2)
    assert idx[0].tolist() == [1, 2]
    np.testing.assert_allclose(sims[0], [0.8, 0.0], atol=1e-6)


def test_skill_tfidf_prefers_skills_in_few_groups():
    W = gf.skill_tfidf_in_groups(Y)
    assert W[0, 1] == 0 and W[2, 0] == 0  # not members -> 0
    # in group A, skill 0 (1 group) outweighs skill 1 (2 groups)
    assert W[0, 0] > W[1, 0] > 0
    # each group's column is l2-normalised
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), [1.0, 1.0], atol=1e-6)
    # a skill's value: plain average of its 3 nearest known skills' weights
    avg = gf.neighbour_tfidf(np.array([[0, 1, 2]]), Y, k=3)
    np.testing.assert_allclose(avg[0], W[[0, 1, 2]].mean(axis=0), atol=1e-6)


def test_cluster_share_uses_other_folds_for_training_skills():
    clusters = np.array([0, 0, 1, 1])
    folds = np.array([0, 1, 0, 1])
    # a new skill in cluster 0 sees both members: A 2/2, B 1/2
    share_new = gf.cluster_group_share(np.array([0]), clusters, Y, 2)
    np.testing.assert_allclose(share_new[0], [1.0, 0.5])
    # training skill 0 (fold 0): only fold-1 members of cluster 0 count (skill 1: groups A and B)
    share = gf.cluster_group_share(np.array([0]), clusters, Y, 2, np.array([0]), folds)
    np.testing.assert_allclose(share[0], [1.0, 1.0])


def test_lexical_groups_use_other_folds_for_training_skills():
    texts = ["weld steel pipes", "weld joints", "bake bread", "bake cakes zanzibar"]
    Yl = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.uint8)
    folds = np.array([0, 1, 0, 1])
    lex = gf.LexicalGroups().fit(texts, Yl)
    new = lex.transform(["weld"])
    assert new[0, 0] > 0 and new[0, 1] == 0
    # "zanzibar" only occurs in skill 3's own text: as a training query (fold 1) it must not match
    assert lex.transform(["zanzibar"], np.array([1]), folds)[0, 1] == pytest.approx(0.0)
    assert lex.transform(["zanzibar"])[0, 1] > 0
    # "bake" is in fold 0's skill 2 as well, so the fold-1 query still finds group B
    assert lex.transform(["bake"], np.array([1]), folds)[0, 1] > 0
