"""Training a group model: frames, encoder adaptation, reduction and clusters, per-level fits, the report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.config import encoder_or_default
from common.groups import features as gf
from common.groups.config import GroupConfig
from common.groups.estimators import (
    Masked,
    fit_proba,
    fold_ids,
    groups_frame_lookup,
    oof_nn_proba,
    set_threads,
    xgb_cross_fit,
    xgb_inner_fit,
)
from common.groups.evaluation import evaluate_groups, training_metrics
from common.groups.features import pair_features, parent_probabilities, spectral_labels
from common.groups.metrics import best_threshold, decide, multilabel_report
from common.groups.model import GroupModel, LevelState, codes_matrix

# ---- training ---------------------------------------------------------------------------------

logger = logging.getLogger(__name__)


@dataclass
class GroupTrainResult:
    model_dir: Path | None
    metrics: dict[str, Any]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    model: GroupModel | None = None


def train_groups(
    cfg: GroupConfig,
    train_df: pd.DataFrame | None = None,
    dev_df: pd.DataFrame | None = None,
    groups_df: pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    embed_cache: bool = True,
) -> GroupTrainResult:

    """Train (and evaluate on ``dev_df`` when given) a group model; save it to ``out_dir``.

    Frames default to the ESCO files under ``data_dir`` (``settings.esco_dir``); pass frames
    (``common.data.esco.skills_frame``) to train on any taxonomy. ``dev_df=None`` with ESCO
    defaults loads the dev split; pass an empty frame to skip evaluation.
    """
    from common.text.embeddings import Encoder, embed_texts

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    set_threads(cfg.threads)
    train_df, dev_df, groups_df = _training_frames(cfg, train_df, dev_df, groups_df, data_dir)
    encoder_path = _adapted_encoder(cfg, encoder_or_default(cfg.encoder), train_df, out_dir, progress, timings)

    t0 = time.perf_counter()
    texts = train_df[cfg.text_field].astype(str).tolist()
    enc = Encoder(encoder_path, device=cfg.device, max_length=cfg.max_length)
    K = embed_texts(texts, encoder=enc, batch_size=cfg.embed_batch_size, use_cache=embed_cache, progress=progress)

    view_texts, view_owner = short_views(train_df, cfg)
    K_views = embed_texts(view_texts, encoder=enc, batch_size=cfg.embed_batch_size, use_cache=embed_cache,
                          progress=progress) if view_texts else np.zeros((0, K.shape[1]), dtype=np.float32)
    timings["embed_train"] = time.perf_counter() - t0

    pca, kmeans, n_spectral, km_known, sp_known = _reduce_and_cluster(cfg, K, timings)
    model = GroupModel(cfg, encoder_path, K, texts, {}, pca, kmeans, n_spectral)
    model._encoder = enc
    fit = _LevelFit(cfg, model, train_df, groups_df, km_known, sp_known, embed_cache,
                    views=(K_views, view_texts, view_owner))
    for level in cfg.levels:
        fit.level(level, timings)

    train_seconds = time.perf_counter() - t_start
    metrics = training_metrics(model, dev_df, fit.inner, embed_cache, progress, timings)
    metrics["train_seconds"] = train_seconds
    metrics["timings"] = timings
    model.metrics = metrics
    model_dir = model.save(out_dir) if out_dir else None
    if model_dir is not None and cfg.export_onnx:
        model = _score_serving_backend(model_dir, dev_df, metrics, embed_cache, progress) or model
    return GroupTrainResult(model_dir=model_dir, metrics=metrics, seconds=train_seconds, timings=timings, model=model)


def _score_serving_backend(model_dir: Path, dev_df: pd.DataFrame | None, metrics: dict[str, Any], embed_cache: bool,
                           progress: bool) -> GroupModel | None:
    """When the configured backend serves the ONNX export, score the saved model with it on dev
    and make those the model's figures (the gate judges what will serve); torch's stay beside them."""
    served = GroupModel.load(model_dir)
    backend = served.encoder().backend
    metrics["backend"] = backend
    if backend == "torch" or dev_df is None or not len(dev_df):
        return None
    torch_figures = {k: {m: v[m] for m in ("micro_f1", "macro_f1") if m in v}
                     for k, v in metrics.items() if k.startswith("l") and isinstance(v, dict)}
    for key, values in evaluate_groups(served, dev_df, embed_cache=embed_cache, progress=progress).items():
        if isinstance(values, dict):
            metrics.setdefault(key, {}).update(values)  # per level: keeps the training-side figures
        else:
            metrics[key] = values
    metrics["torch"] = torch_figures
    served.metrics = metrics
    served.save_metrics(model_dir)
    return served


def _training_frames(cfg: GroupConfig, train_df: pd.DataFrame | None, dev_df: pd.DataFrame | None,
                     groups_df: pd.DataFrame | None, data_dir: str | Path | None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """The frames to train on: ESCO's by default, capped by the config's debug limits."""
    from common.data import esco

    if train_df is None:
        train_df = esco.load_skills("train", data_dir)
        if dev_df is None:
            dev_df = esco.load_skills("dev", data_dir)
    if groups_df is None:
        groups_df = esco.load_groups(data_dir)
    if cfg.max_train_skills:
        train_df = train_df.sample(n=min(cfg.max_train_skills, len(train_df)), random_state=cfg.seed).reset_index(drop=True)
    if dev_df is not None and cfg.max_dev_skills:
        dev_df = dev_df.head(cfg.max_dev_skills).reset_index(drop=True)
    return train_df, dev_df, groups_df


def short_views(train_df: pd.DataFrame, cfg: GroupConfig) -> tuple[list[str], np.ndarray]:
    """The extra training queries of ``cfg.views`` and the training skill each belongs to.

    A view equal to the skill's embedded text adds nothing and is skipped.
    """
    texts: list[str] = []
    owner: list[int] = []
    for view in cfg.views:
        for i, (value, own) in enumerate(zip(train_df[view].astype(str), train_df[cfg.text_field].astype(str),
                                             strict=True)):
            value = " ".join(value.split())
            if value and value != " ".join(own.split()):
                texts.append(value)
                owner.append(i)
    return texts, np.asarray(owner, dtype=np.int64)


def _adapted_encoder(cfg: GroupConfig, encoder_path: str, train_df: pd.DataFrame, out_dir: str | Path | None,
                     progress: bool, timings: dict[str, float]) -> str:
    """``encoder_path``, or a Mirror-BERT adaptation of it on the training labels (``cfg.mirror``)."""
    if not cfg.mirror:
        return encoder_path
    from common.core.settings import get_settings
    from common.text.mirror_bert import MirrorConfig, train_mirror_bert

    mcfg = MirrorConfig.model_validate({**cfg.mirror, "encoder": encoder_path, "seed": cfg.seed,
                                        "threads": cfg.mirror.get("threads", cfg.threads)})
    mdir = Path(out_dir) / "mirror-encoder" if out_dir else get_settings().models_dir / "mirror-bert" / "latest"
    mres = train_mirror_bert(mcfg, train_df["label"].tolist(), mdir, progress=progress)
    timings["mirror_bert"] = mres.seconds
    return str(mres.model_dir)


def _reduce_and_cluster(cfg: GroupConfig, K: np.ndarray, timings: dict[str, float]) -> tuple[Any, Any, int, Any, Any]:
    """SkillBERT's PCA and, with the ``clusters`` feature, k-means and spectral labels of the
    training skills: ``(pca, kmeans, n_spectral, kmeans labels, spectral labels)``."""
    if cfg.kind != "skillbert":
        return None, None, 0, None, None
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    dims = min(cfg.pca_dims, K.shape[1], len(K))
    pca = PCA(n_components=dims, random_state=cfg.seed).fit(K)
    kmeans = km_known = sp_known = None
    n_spectral = 0
    if "clusters" in set(cfg.features):
        Kr = pca.transform(K).astype(np.float32)
        k_km = max(2, min(cfg.kmeans_clusters, len(K) // 2))
        kmeans = KMeans(n_clusters=k_km, n_init=1, random_state=cfg.seed).fit(Kr)
        km_known = kmeans.labels_
        n_spectral = max(2, min(cfg.spectral_clusters, len(K) // 2))
        sp_known = spectral_labels(Kr, n_spectral, cfg.spectral_neighbors, cfg.spectral_max_points, cfg.seed)
    timings["reduce_cluster"] = time.perf_counter() - t0
    logger.info("PCA + clusters in %.1fs", timings["reduce_cluster"])
    return pca, kmeans, n_spectral, km_known, sp_known


class _LevelFit:
    """Fits one level after another into ``model.levels``; level 2 reads level 1's out-of-fold
    network probabilities (the parent feature), so the levels share this state."""

    def __init__(self, cfg: GroupConfig, model: GroupModel, train_df: pd.DataFrame, groups_df: pd.DataFrame,
                 km_known: Any, sp_known: Any, embed_cache: bool,
                 views: tuple[np.ndarray, list[str], np.ndarray] | None = None) -> None:
        self.cfg, self.model, self.train_df, self.embed_cache = cfg, model, train_df, embed_cache
        self.labels_map, self.parents_map = groups_frame_lookup(groups_df)
        self.km_known, self.sp_known = km_known, sp_known
        n = len(model.known_emb)
        inner = np.random.default_rng(cfg.seed).random(n) < cfg.inner_dev_frac
        if inner.all() or not inner.any():
            inner[: max(1, n // 5)] = True
            inner[max(1, n // 5):] = False
        self.inner_mask = inner
        self.folds = fold_ids(cfg, n)  # shared by the networks' out-of-fold split, group statistics and XGBoost
        # training queries: every known skill's own text, then its short views (``GroupConfig.views``)
        K_views, view_texts, view_owner = views if views is not None else (None, [], np.zeros(0, dtype=np.int64))
        self.owner = np.concatenate([np.arange(n, dtype=np.int64), view_owner]).astype(np.int64)
        self.Q = model.known_emb if K_views is None or not len(K_views) else np.vstack([model.known_emb, K_views])
        self.q_texts = list(model.known_texts) + list(view_texts)
        self.oof_by_level: dict[int, np.ndarray] = {}
        self.inner: dict[int, tuple[float, float, int]] = {}  # level -> (inner micro-F1, candidate recall, trees)

    def _state(self, level: int) -> LevelState:
        """Codes, labels, the skill x group matrix and the group-name embeddings of ``level``."""
        from common.text.embeddings import embed_texts

        col = f"groups_l{level}"
        codes = sorted({c for cs in self.train_df[col] for c in cs})
        if not codes:
            raise ValueError(f"no level-{level} groups in the training skills")
        Y = codes_matrix(self.train_df[col].tolist(), codes)
        glabels = [self.labels_map.get(c, c) for c in codes]
        enc = self.model.encoder()
        name_emb = embed_texts(glabels, encoder=enc, use_cache=self.embed_cache)
        parent_emb = None
        if level >= 2:
            plabels = [self.labels_map.get(self.parents_map.get(c, ""), glabels[i]) for i, c in enumerate(codes)]
            parent_emb = embed_texts(plabels, encoder=enc, use_cache=self.embed_cache)
        return LevelState(level=level, codes=codes, labels=glabels, Y=Y, name_emb=name_emb, parent_name_emb=parent_emb)

    def level(self, level: int, timings: dict[str, float]) -> None:
        t0 = time.perf_counter()
        st = self.model.levels[level] = self._state(level)
        if self.cfg.kind == "ovr":
            self._fit_ovr(st)
        else:
            self._fit_skillbert(st, timings, t0)
            return
        timings[f"fit_l{level}"] = time.perf_counter() - t0

    def _fit_ovr(self, st: LevelState) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        K, cfg = self.model.known_emb, self.cfg
        est = OneVsRestClassifier(LogisticRegression(C=cfg.ovr_c, max_iter=1000), n_jobs=1)
        fit_proba(est, K, st.Y, K[:1])
        st.ovr = Masked(est, st.Y.any(axis=0))
        st.threshold = cfg.ovr_threshold if cfg.threshold is None else cfg.threshold

    def _fit_skillbert(self, st: LevelState, timings: dict[str, float], t0: float) -> None:
        """Out-of-fold network, pair features, XGBoost (cross-fitted or inner split), threshold."""
        cfg, model, level = self.cfg, self.model, st.level
        Q, q_texts, owner = self.Q, self.q_texts, self.owner
        Y = st.Y[owner]  # one row per training query
        q_folds = self.folds[owner]
        feats = set(cfg.features)
        oof, st.nn = oof_nn_proba(cfg, Q, Y, q_folds)
        self.oof_by_level[level] = oof
        timings[f"nn_l{level}"] = time.perf_counter() - t0
        logger.info("level %d: out-of-fold network in %.1fs", level, timings[f"nn_l{level}"])
        parent_prob = None
        if level == 2 and 1 in self.oof_by_level and "nn" in feats:
            pos1 = {c: i for i, c in enumerate(model.levels[1].codes)}
            st.parent_idx = np.array([pos1.get(self.parents_map.get(c, ""), -1) for c in st.codes], dtype=np.int64)
            parent_prob = parent_probabilities(st, self.oof_by_level[1])
        if "lexical" in feats:
            st.lexical = gf.LexicalGroups().fit(model.known_texts, st.Y)
        st.km_known, st.sp_known = self.km_known, self.sp_known
        t1 = time.perf_counter()
        X, rows, cols, names = pair_features(model, st, Q, q_texts, owner, oof, parent_prob, folds=self.folds)
        st.feature_names = names
        y = Y[rows, cols]
        timings[f"features_l{level}"] = time.perf_counter() - t1
        recall = y.sum() / max(1, Y.sum())
        logger.info("level %d: %d pairs x %d features, candidate recall %.3f", level, len(rows), X.shape[1], recall)
        t1 = time.perf_counter()
        if cfg.xgb_fit == "cv":
            st.xgb, P_fit, fit_idx, best_it = xgb_cross_fit(cfg, X, y, rows, cols, q_folds, Y.shape)
        else:
            st.xgb, P_fit, fit_idx, best_it = xgb_inner_fit(cfg, X, y, rows, cols, self.inner_mask[owner], Y.shape)
        if cfg.threshold is None:
            st.threshold, inner_f1 = best_threshold(Y[fit_idx], P_fit[fit_idx])
        else:
            st.threshold = cfg.threshold
            inner_f1 = multilabel_report(Y[fit_idx], decide(P_fit[fit_idx], st.threshold))["micro_f1"]
        timings[f"xgb_l{level}"] = time.perf_counter() - t1
        logger.info("level %d: XGBoost %d trees, threshold %.3f, inner micro-F1 %.3f in %.1fs",
                    level, best_it, st.threshold, inner_f1, timings[f"xgb_l{level}"])
        self.inner[level] = (float(inner_f1), float(recall), int(best_it))
