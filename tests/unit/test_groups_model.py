"""The group model end to end on a small hand-made taxonomy with a tiny random BERT, and its CLI."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import group_taxonomy as gt  # noqa: E402

from jobskills.cli.main import app  # noqa: E402

from common.groups.config import GroupConfig
from common.groups.model import GroupModel, GroupScore
from common.groups.estimators import fold_ids, oof_nn_proba
from common.groups.features import pair_features, parent_probabilities
from common.groups.training import train_groups

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
    t0 = time.process_time()  # CPU seconds: wall time on a shared CI box says little
    res = train_groups(_cfg(tiny_bert_dir), train, dev, gt.groups(), out_dir=out, progress=False, embed_cache=False)
    return res, train, dev, time.process_time() - t0


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


def test_decide_is_assign_and_predict_in_one_pass(trained):
    res, *_ = trained
    model = GroupModel.load(res.model_dir)
    skills = ["cook meals", "write python code", "teach children"]
    for level in (1, 2):
        decisions = model.decide(skills, level=level, top_k=2)
        assert [[g.code for g in d.ranked] for d in decisions] == [
            [g.code for g in r] for r in model.predict(skills, level=level, top_k=2)]
        assert [[g.code for g in d.groups] for d in decisions] == [
            [g.code for g in r] for r in model.assign(skills, level=level)]
        for d in decisions:
            assert d.threshold == pytest.approx(model.threshold(level)) and d.groups
            assert all(g.score >= d.threshold for g in d.groups[1:])
            assert [g.score for g in d.groups] == sorted((g.score for g in d.groups), reverse=True)
    assert model.decide([], level=2) == []


def test_ovr_baseline_trains(tiny_bert_dir):
    df = gt.skills()
    res = train_groups(_cfg(tiny_bert_dir, kind="ovr"), df, df.head(5), gt.groups(), progress=False, embed_cache=False)
    assert res.metrics["l2"]["n_skills"] == 5 and res.model_dir is None


def test_no_leakage_a_skills_own_groups_never_enter_its_features(tiny_bert_dir):
    """Relabelling one training skill leaves every per-skill feature of that skill unchanged.

    Two features are group constants computed on all training labels (the group's size and the
    group's TF-IDF normalising length): they move with the relabelling for every skill alike, and
    ``test_group_statistics_do_not_reveal_membership`` checks they cannot tell members apart.
    """
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
        X, rows, cols, names = pair_features(model, st, K, frame["text"].tolist(), np.arange(len(K)), oof, parent,
                                             folds=fold_ids(cfg, len(K)))
        order = np.argsort(cols[rows == i])
        feats.append((X[rows == i][order], cols[rows == i][order], names))
    (xa, ca, na), (xb, cb, nb) = feats
    assert na == nb and ca.tolist() == cb.tolist() and "parent_nn_prob" in na
    per_skill = [j for j, n in enumerate(na) if n not in ("group_log_size", "tfidf_knn")]
    assert len(per_skill) == len(na) - 2
    np.testing.assert_allclose(xa[:, per_skill], xb[:, per_skill], rtol=1e-5, atol=1e-6)


def test_group_statistics_do_not_reveal_membership(tiny_bert_dir):
    """A per-group feature must be equal for members and non-members (leave-one-out sizes are not)."""
    df = gt.skills()
    cfg = _cfg(tiny_bert_dir)
    model = train_groups(cfg, df, None, gt.groups(), progress=False, embed_cache=False).model
    st = model.levels[2]
    K = model.known_emb
    oof, _ = oof_nn_proba(cfg, K, st.Y)
    X, rows, cols, names = pair_features(model, st, K, df["text"].tolist(), np.arange(len(K)), oof,
                                         folds=fold_ids(cfg, len(K)))
    size = X[:, names.index("group_log_size")]
    for g in np.unique(cols):
        assert np.unique(size[cols == g]).size == 1


def test_classify_skill_prints_ranked_groups(trained):
    model_dir = trained[0].model_dir
    res = CliRunner().invoke(app, ["classify-skill", "cook meals", "--model", str(model_dir), "--top-k", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data[0]["skill"] == "cook meals" and len(data[0]["ranked"]) == 2
    assert data[0]["assigned"] and data[0]["ranked"][0]["score"] >= data[0]["ranked"][1]["score"]
    # groups is the model's decision (as /classify), the same codes as assigned
    assert [g["code"] for g in data[0]["groups"]] == data[0]["assigned"]
    assert data[0]["threshold"] == pytest.approx(GroupModel.load(model_dir).threshold(2))
    assert "no dev score" in res.stderr  # a folder outside the registry: which model, and no score for it


def test_match_reads_files(trained, tmp_path):
    model_dir = trained[0].model_dir
    resume, job = tmp_path / "resume.txt", tmp_path / "job.json"
    resume.write_text("- cook meals\n- bake bread\n")
    job.write_text(json.dumps(["cook meals", "write python code"]))
    res = CliRunner().invoke(app, ["match", "--resume", str(resume), "--job", str(job), "--model", str(model_dir), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert 0 < out["score"] <= 1 and out["exact_overlap"] == ["cook meals"]


def test_cli_bad_input_exits_with_a_sentence(trained, tmp_path):
    model_dir = trained[0].model_dir
    runner = CliRunner()
    res = runner.invoke(app, ["match", "--resume", str(tmp_path / "nope.txt"), "--job", str(tmp_path / "nope.txt"),
                              "--model", str(model_dir)])
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
    res = runner.invoke(app, ["classify-skill", "python", "--model", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no skill-group model" in " ".join(res.output.split())
    res = runner.invoke(app, ["evaluate-groups", "--split", "test2", "--model", str(model_dir)])
    assert res.exit_code == 2


def test_prediction_network_is_the_mean_of_the_fold_networks(tiny_bert_dir):
    """XGBoost learnt from out-of-fold network probabilities; by default the same fold networks,
    averaged, make that feature at prediction time (``nn_inference: full`` refits one network)."""
    df = gt.skills()
    model = train_groups(_cfg(tiny_bert_dir), df, None, gt.groups(), progress=False, embed_cache=False).model
    K = model.known_emb
    folds_cfg = _cfg(tiny_bert_dir, nn_inference="folds")
    oof, nn = oof_nn_proba(folds_cfg, K, model.levels[2].Y)
    assert len(nn.members) == folds_cfg.nn_folds
    P = nn.predict_proba(K[:5])
    np.testing.assert_allclose(P, np.mean([m.predict_proba(K[:5]) for m in nn.members], axis=0), rtol=1e-6)
    assert P.shape == (5, model.levels[2].Y.shape[1]) and np.all((P >= 0) & (P <= 1))
    _, full = oof_nn_proba(_cfg(tiny_bert_dir, nn_inference="full"), K, model.levels[2].Y)
    assert not hasattr(full, "members") and full.predict_proba(K[:5]).shape == P.shape
    # the out-of-fold probabilities do not depend on the choice
    oof_full, _ = oof_nn_proba(_cfg(tiny_bert_dir, nn_inference="full"), K, model.levels[2].Y)
    np.testing.assert_allclose(oof, oof_full, rtol=1e-6)


def test_cross_fitted_xgboost_averages_the_fold_models_and_survives_save_load(tiny_bert_dir, tmp_path):
    """``xgb_fit: cv``: one XGBoost per fold, the threshold picked on every training skill's
    out-of-fold probability, predictions the mean of the fold models."""
    df = gt.skills()
    dev = df.iloc[::6].reset_index(drop=True)
    train = df.drop(df.index[::6]).reset_index(drop=True)
    cfg = _cfg(tiny_bert_dir, xgb_fit="cv")
    res = train_groups(cfg, train, dev, gt.groups(), out_dir=tmp_path / "cv", progress=False, embed_cache=False)
    model = res.model
    for level, st in model.levels.items():
        assert len(st.xgb.members) == cfg.nn_folds, level
        m = res.metrics[f"l{level}"]
        assert 0.1 <= m["threshold"] <= 0.8 and 0 <= m["micro_f1"] <= 1
    # the level-2 probabilities are the mean of the fold models' probabilities
    st = model.levels[2]
    texts = dev["text"].tolist()
    Q = model.embed(texts)
    nn_prob = st.nn.predict_proba(Q)
    parent = parent_probabilities(st, model.levels[1].nn.predict_proba(Q))
    X, rows, cols, _ = pair_features(model, st, Q, texts, np.full(len(Q), -1), nn_prob, parent)
    mean = np.mean([m.predict_proba(X)[:, 1] for m in st.xgb.members], axis=0)
    np.testing.assert_allclose(model.proba(2, Q, texts)[rows, cols], mean, rtol=1e-5, atol=1e-6)
    again = GroupModel.load(res.model_dir)
    assert [g.code for g in again.predict(texts[:3])[0]] == [g.code for g in model.predict(texts[:3])[0]]


def test_inner_split_xgboost_is_one_refit_model(tiny_bert_dir):
    """``xgb_fit: inner``: the threshold comes from an inner split, one model refit on all of train."""
    df = gt.skills()
    res = train_groups(_cfg(tiny_bert_dir, xgb_fit="inner"), df, df.head(0), gt.groups(), progress=False,
                       embed_cache=False)
    for level, st in res.model.levels.items():
        assert not hasattr(st.xgb, "members") and hasattr(st.xgb, "get_booster"), level
        assert 0.1 <= st.threshold <= 0.8
    assert res.model.predict(["analyse data"], level=2)[0]


def test_short_views_are_extra_training_queries_scored_on_labels(tiny_bert_dir):
    """``views: [label]`` adds each skill's label as a training query of that skill (a label equal
    to the embedded text adds nothing), and training reports dev figures on label-only input."""
    from common.groups.training import short_views

    df = gt.skills()
    df["text"] = df["label"] + " and the duties around it"
    cfg = _cfg(tiny_bert_dir, views=["label"])
    texts, owner = short_views(df, cfg)
    assert texts == df["label"].tolist() and owner.tolist() == list(range(len(df)))
    assert short_views(df.assign(text=df["label"]), cfg)[0] == []
    dev = df.iloc[::6].reset_index(drop=True)
    train = df.drop(df.index[::6]).reset_index(drop=True)
    res = train_groups(cfg, train, dev, gt.groups(), progress=False, embed_cache=False)
    for level in ("l1", "l2"):
        assert res.metrics["label_input"][level]["n_skills"] == len(dev)
        assert 0 <= res.metrics["label_input"][level]["micro_f1"] <= 1
    # the label queries reach the fit: without them the same data gives another model
    plain = train_groups(_cfg(tiny_bert_dir, views=[]), train, dev, gt.groups(), progress=False, embed_cache=False)
    q = res.model.embed(dev["label"].tolist())
    assert not np.allclose(res.model.proba(2, q, dev["label"].tolist()), plain.model.proba(2, q, dev["label"].tolist()))
