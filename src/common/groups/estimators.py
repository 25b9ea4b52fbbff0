"""The estimators behind the pair classifier: the small network (out-of-fold), XGBoost fits with
their threshold, and wrappers that keep a fitted model's columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.groups.config import GroupConfig


def set_threads(n: int | None) -> None:
    from common.core.settings import use_threads

    use_threads(n)


def mlp(cfg: GroupConfig, seed: int):  # noqa: ANN202 - sklearn estimator
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(cfg.nn_hidden,), alpha=cfg.nn_alpha, max_iter=cfg.nn_epochs,
                         batch_size=128, learning_rate_init=1e-3, random_state=seed)


def fit_proba(est: Any, X: np.ndarray, Y: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Fit a multi-label estimator; columns with no positives (tiny folds) get probability 0."""
    import warnings

    keep = Y.any(axis=0)
    out = np.zeros((len(Xq), Y.shape[1]), dtype=np.float32)
    if not keep.any():
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y[:, keep])
    p = np.asarray(est.predict_proba(Xq), dtype=np.float32).reshape(len(Xq), -1)
    if keep.sum() == 1 and p.shape[1] == 2:  # a single label column is fitted as binary
        p = p[:, 1:]
    out[:, keep] = p
    est.keep_ = keep
    return out


class Masked:
    """An estimator trained on a subset of label columns that still answers for all of them."""

    def __init__(self, est: Any, keep: np.ndarray) -> None:
        self.est, self.keep = est, keep

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), len(self.keep)), dtype=np.float32)
        p = np.asarray(self.est.predict_proba(X), dtype=np.float32).reshape(len(X), -1)
        out[:, self.keep] = p[:, 1:] if self.keep.sum() == 1 and p.shape[1] == 2 else p
        return out


class MeanOf:
    """Mean probabilities of several estimators (the fold networks of ``oof_nn_proba``, or the
    fold XGBoost models of ``xgb_cross_fit``).

    Why: XGBoost learnt from out-of-fold probabilities, each made by a network that saw 80 % of
    train; averaging those same networks at prediction time keeps the feature's distribution the
    one XGBoost was fitted on, and averages away the seed-to-seed noise of a single network.
    """

    def __init__(self, members: list[Masked]) -> None:
        self.members = members

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.members], axis=0).astype(np.float32)


def fold_ids(cfg: GroupConfig, n: int) -> np.ndarray:
    """The fold of each training skill (shared by the network and the group statistics)."""
    from sklearn.model_selection import KFold

    ids = np.zeros(n, dtype=np.int64)
    for f, (_, te) in enumerate(KFold(min(cfg.nn_folds, n), shuffle=True, random_state=cfg.seed).split(np.arange(n))):
        ids[te] = f
    return ids


def oof_nn_proba(cfg: GroupConfig, K: np.ndarray, Y: np.ndarray,
                 ids: np.ndarray | None = None) -> tuple[np.ndarray, Masked]:
    """Out-of-fold network probabilities for the training queries, and the full-data network.

    The folds are ``ids`` (default ``fold_ids``): the same split the group statistics and the
    XGBoost fits use; every view of one skill sits in that skill's fold.
    """
    oof = np.zeros(Y.shape, dtype=np.float32)
    ids = fold_ids(cfg, len(K)) if ids is None else ids
    members: list[Masked] = []
    for f in range(int(ids.max()) + 1):
        tr, te = np.nonzero(ids != f)[0], np.nonzero(ids == f)[0]
        est = mlp(cfg, cfg.seed + f)
        oof[te] = fit_proba(est, K[tr], Y[tr], K[te])
        if hasattr(est, "keep_"):
            members.append(Masked(est, est.keep_))
    if cfg.nn_inference == "folds" and members:
        return oof, MeanOf(members)
    est = mlp(cfg, cfg.seed)
    fit_proba(est, K, Y, K[:1])
    return oof, Masked(est, est.keep_)


def groups_frame_lookup(groups_df: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    labels = dict(zip(groups_df["code"].astype(str), groups_df["label"].astype(str), strict=False))
    parents = dict(zip(groups_df["code"].astype(str), groups_df["parent_code"].astype(str), strict=False))
    return labels, parents


def xgb_classifier(cfg: GroupConfig, n_estimators: int | None = None, early: bool = True):  # noqa: ANN202
    from xgboost import XGBClassifier

    p = cfg.xgb
    return XGBClassifier(
        n_estimators=n_estimators or p.n_estimators, max_depth=p.max_depth, learning_rate=p.learning_rate,
        subsample=p.subsample, colsample_bytree=p.colsample_bytree, min_child_weight=p.min_child_weight,
        tree_method="hist", n_jobs=cfg.threads or 0, random_state=cfg.seed, eval_metric="logloss",
        early_stopping_rounds=p.early_stopping_rounds if early else None,
    )


def trees_used(clf: Any, cfg: GroupConfig) -> int:
    """Trees an early-stopped XGBoost model kept (all of them when it did not stop early)."""
    return int(getattr(clf, "best_iteration", cfg.xgb.n_estimators - 1) or 0) + 1


def xgb_inner_fit(cfg: GroupConfig, X: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   inner: np.ndarray, shape: tuple[int, int]) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """XGBoost on the pairs of train minus the inner split (early stopping on it), then refit on all.

    Returns the model, the inner split's probabilities (``shape``), its skill indices, and the tree count.
    """
    in_inner = inner[rows]
    clf = xgb_classifier(cfg)
    clf.fit(X[~in_inner], y[~in_inner], eval_set=[(X[in_inner], y[in_inner])], verbose=False)
    best_it = trees_used(clf, cfg)
    P = np.zeros(shape, dtype=np.float32)
    P[rows[in_inner], cols[in_inner]] = clf.predict_proba(X[in_inner])[:, 1]
    if cfg.refit:
        clf = xgb_classifier(cfg, n_estimators=max(1, int(best_it * 1.1)), early=False)
        clf.fit(X, y, verbose=False)
    return clf, P, np.nonzero(inner)[0], best_it


def xgb_cross_fit(cfg: GroupConfig, X: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   folds: np.ndarray, shape: tuple[int, int]) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """One XGBoost per fold of training skills, each early-stopped on its held-out fold.

    Why: the inner split leaves the threshold to a fifth of train, and the model it was picked
    for is not the refit one that predicts. Here every training skill has an out-of-fold
    probability from a model like the ones that predict (their mean), so the threshold is
    picked on five times the skills and for the same kind of model.
    Returns the mean model, the out-of-fold probabilities, all skill indices and the mean tree count.
    """
    row_fold = folds[rows]
    P = np.zeros(shape, dtype=np.float32)
    members, trees = [], []
    for f in np.unique(row_fold):
        held = row_fold == f
        clf = xgb_classifier(cfg)
        clf.fit(X[~held], y[~held], eval_set=[(X[held], y[held])], verbose=False)
        trees.append(trees_used(clf, cfg))
        P[rows[held], cols[held]] = clf.predict_proba(X[held])[:, 1]
        members.append(clf)
    return MeanOf(members), P, np.unique(rows), int(np.mean(trees))
