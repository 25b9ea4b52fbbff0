"""The group model end to end on a small hand-made taxonomy with a tiny random BERT."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import group_taxonomy as gt  # noqa: E402

from common.groups import (  # noqa: E402
    GroupConfig,
    GroupModel,
    GroupScore,
    oof_nn_proba,
    pair_features,
    parent_probabilities,
    train_groups,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _cfg(encoder: Path, **kw) -> GroupConfig:
    cfg = GroupConfig.from_yaml(CONFIGS / "groups-tiny.yaml")
    return GroupConfig.model_validate({**cfg.model_dump(), "encoder": str(encoder), **kw})


@pytest.fixture(scope="module")
def trained(tiny_bert_dir, tmp_path_factory):
    df = gt.skills()
    dev = df.iloc[::6].reset_index(drop=True)
    train = df.drop(df.index[::6]).reset_index(drop=True)
    out = tmp_path_factory.mktemp("grp") / "model"
    t0 = time.perf_counter()
    res = train_groups(_cfg(tiny_bert_dir), train, dev, gt.groups(), out_dir=out, progress=False, embed_cache=False)
    return res, train, dev, time.perf_counter() - t0


def test_tiny_training_is_fast_and_reports_metrics(trained):
    res, _, dev, seconds = trained
    assert seconds < 15
    for level in ("l1", "l2"):
        m = res.metrics[level]
        assert 0 <= m["pair_f1"] <= 1 and m["n_skills"] == len(dev)
        assert m["micro_f1"] == m["pair_f1"]
    assert res.model_dir is not None and (res.model_dir / "group_model.joblib").exists()


def test_predict_ranks_groups_and_survives_save_load(trained, tmp_path):
    res, *_ = trained
    model = GroupModel.load(res.model_dir)
    skills = ["cook meals", "write python code"]
    p2 = model.predict(skills, level=2, top_k=3)
    assert len(p2) == 2 and all(len(r) == 3 for r in p2)
    for row in p2:
        assert all(isinstance(g, GroupScore) and g.level == 2 for g in row)
        scores = [g.score for g in row]
        assert scores == sorted(scores, reverse=True)
    assert {g.code for g in model.predict(["cook meals"], level=1, top_k=5)[0]} <= {"T", "C"}
    # a re-saved model predicts the same
    model.save(tmp_path / "copy")
    again = GroupModel.load(tmp_path / "copy").predict(skills, level=2, top_k=3)
    assert [[g.code for g in r] for r in again] == [[g.code for g in r] for r in p2]
    np.testing.assert_allclose([g.score for g in again[0]], [g.score for g in p2[0]], rtol=1e-5)
    assert all(len(a) >= 1 for a in model.assign(skills, level=2))
    with pytest.raises(ValueError):
        model.predict(skills, level=3)
    assert model.predict([], level=2) == []


def test_ovr_baseline_trains(tiny_bert_dir):
    df = gt.skills()
    res = train_groups(_cfg(tiny_bert_dir, kind="ovr"), df, df.head(5), gt.groups(), progress=False, embed_cache=False)
    assert res.metrics["l2"]["n_skills"] == 5 and res.model_dir is None


def test_no_leakage_a_skills_own_groups_never_enter_its_features(tiny_bert_dir):
    """Relabelling one training skill leaves every feature of that skill unchanged."""
    df = gt.skills()
    i = 3  # a T.1 skill
    moved = df.copy()
    moved.at[i, "groups_l2"] = ["C.2"]
    moved.at[i, "groups_l1"] = ["C"]
    cfg = _cfg(tiny_bert_dir)
    feats = []
    for frame in (df, moved):
        model = train_groups(cfg, frame, None, gt.groups(), progress=False, embed_cache=False).model
        st = model.levels[2]
        K = model.known_emb
        oof, _ = oof_nn_proba(cfg, K, st.Y)
        parent = parent_probabilities(st, oof_nn_proba(cfg, K, model.levels[1].Y)[0])
        X, rows, cols, names = pair_features(model, st, K, frame["text"].tolist(), np.arange(len(K)), oof, parent)
        order = np.argsort(cols[rows == i])
        feats.append((X[rows == i][order], cols[rows == i][order], names))
    (xa, ca, na), (xb, cb, nb) = feats
    assert na == nb and ca.tolist() == cb.tolist() and "parent_nn_prob" in na
    np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=1e-6)
