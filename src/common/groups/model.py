"""Skill -> competency groups: SkillBERT's pair classifier on the ESCO taxonomy.

Two model kinds share one ``GroupModel`` class:

* ``skillbert`` - the seed paper's recipe: per (skill, group) pair, features from
  ``common.groups.features`` (128-d reduced embedding, a small network's probability, cosine to
  the group's name, top-1/2/3 similarity to the group's known skills, k-means and spectral
  cluster labels with their group shares, the skill's TF-IDF weight in the group via its 3
  nearest known skills, word-level TF-IDF cosine to the group's document, group size), then
  XGBoost over the pairs. To keep 10,944 x 129 pairs affordable, each skill only gets pairs
  for its candidate groups (top-N by the network's probability plus top-N/3 by nearest-skill
  similarity); the others score 0 and count as misses in the metrics (``candidate_recall``).
* ``ovr`` - the baseline: one-vs-rest logistic regression on the embeddings alone.

Levels 1 and 2 are separate classifiers over the same embeddings. Thresholds are chosen on the
training skills only (out-of-fold XGBoost probabilities, or an inner split); dev is only ever
evaluated.

Training features never see a skill's own labels: out-of-fold network probabilities and
leave-one-out neighbour statistics make a training skill look like a new one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from common.text.mirror_bert import check_mirror_keys
from common.core.config import StageConfig, StrictModel, encoder_or_default
from common.groups import features as gf
from common.groups.metrics import best_threshold, decide, multilabel_report
from common.core.quiet import summarised_warnings

logger = logging.getLogger(__name__)

MODEL_FILE = "group_model.joblib"
META_FILE = "group_model.json"
ENCODER_DIR = "encoder"
DEFAULT_ENCODER = "default"
Feature = Literal["embedding", "nn", "name", "topk", "tfidf", "clusters", "lexical", "size"]
ALL_FEATURES: tuple[str, ...] = get_args(Feature)


class GroupScore(BaseModel):
    """One ranked competency group for a skill."""

    code: str
    label: str
    level: int
    score: float


class GroupDecision(BaseModel):
    """What the model decides for one skill, and the ranking it decided from."""

    groups: list[GroupScore] = Field(description="Groups the skill is put in (score >= threshold, at least one).")
    ranked: list[GroupScore] = Field(description="The top_k groups by score, decided or not.")
    threshold: float = Field(description="The tuned probability threshold of this level.")


class XGBParams(StrictModel):
    n_estimators: int = 400
    max_depth: int = 6
    learning_rate: float = 0.1
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    min_child_weight: float = 2.0
    early_stopping_rounds: int = 30


class GroupConfig(StageConfig):
    """A group-classifier training run (YAML-loadable; see ``configs/groups*.yaml``)."""

    name: str = "skillbert"
    kind: Literal["skillbert", "ovr"] = "skillbert"
    encoder: str | None = Field(None, description="HF model folder; default: settings.encoder_path (MiniLM).")
    mirror: dict[str, Any] | None = Field(
        None, description="Mirror-BERT settings (``common.text.mirror_bert.MirrorConfig``); adapts the encoder first."
    )
    _mirror_keys = field_validator("mirror")(lambda v: check_mirror_keys(v, "mirror"))
    text_field: Literal["text", "label"] = Field("text", description="Which skill column is embedded.")
    views: list[Literal["label"]] = Field(
        default_factory=lambda: ["label"], description="Short views of each training skill added as extra training queries "
        "(same groups, same fold, its own long text excluded from its neighbours): the service classifies short "
        "phrases: on ESCO dev, label-only level-2 micro-F1 0.485 -> 0.551 with the label view, long text 0.586 -> 0.591.")
    max_length: int = Field(128, ge=8)
    embed_batch_size: int = Field(64, ge=1)
    levels: list[Literal[1, 2]] = Field(default_factory=lambda: [1, 2])
    features: list[Feature] = Field(default_factory=lambda: list(ALL_FEATURES))
    pca_dims: int = Field(128, ge=2)
    nn_hidden: int = Field(512, ge=4)
    nn_epochs: int = Field(40, ge=1)
    nn_alpha: float = 1e-4
    nn_folds: int = Field(5, ge=2)
    nn_inference: Literal["folds", "full"] = Field(
        "folds", description="Network probabilities at prediction time: the mean of the out-of-fold networks "
        "(the same kind of network the XGBoost features were made with, and an ensemble) or one network refit on all of train.")
    kmeans_clusters: int = Field(150, ge=2)
    spectral_clusters: int = Field(150, ge=2)
    spectral_neighbors: int = Field(10, ge=2)
    spectral_max_points: int = Field(3000, ge=10, description="Spectral clustering on a sample this big; the rest by 5-NN vote.")
    tfidf_neighbours: int = 3
    candidates: dict[int, int] = Field(default_factory=lambda: {1: 12, 2: 20})
    xgb: XGBParams = Field(default_factory=XGBParams)
    inner_dev_frac: float = Field(0.2, gt=0, lt=1, description="xgb_fit inner: share of train held out to pick thresholds.")
    refit: bool = Field(True, description="xgb_fit inner: refit XGBoost on all of train after the inner split.")
    xgb_fit: Literal["inner", "cv"] = Field(
        "cv", description="inner: one XGBoost fitted on train minus an inner split that picks the threshold, "
        "then refit on all; cv: one XGBoost per fold (the network's folds), the threshold picked on the "
        "out-of-fold predictions of every training skill, and predictions averaged over the fold models.")
    ovr_c: float = 1.0
    threshold: float | None = Field(None, description="Fixed decision threshold; None: tuned on training skills (see xgb_fit).")
    ovr_threshold: float = 0.4
    max_train_skills: int | None = Field(None, ge=2, description="Debug cap on training skills.")
    max_dev_skills: int | None = Field(None, ge=1, description="Debug cap on dev skills.")
    seed: int = 13
    threads: int | None = Field(None, ge=1, description="CPU threads for torch/XGBoost; 1 is faster on a busy CPU.")
    export_onnx: bool = Field(False, description="Export the encoder to ONNX next to the model and score the "
                              "backend that will serve (settings.inference_backend). Off by default: int8 parity is "
                              "not yet measured on ESCO dev (the quickstart's small model lost 0.05 l2 micro-F1).")
    device: str | None = None

def _codes_matrix(lists: Sequence[Sequence[str]], codes: list[str]) -> np.ndarray:
    pos = {c: i for i, c in enumerate(codes)}
    Y = np.zeros((len(lists), len(codes)), dtype=np.uint8)
    for i, cs in enumerate(lists):
        for c in cs:
            if c in pos:
                Y[i, pos[c]] = 1
    return Y


@dataclass
class LevelState:
    """Everything one level's classifier needs at prediction time."""

    level: int
    codes: list[str]
    labels: list[str]
    Y: np.ndarray  # (n_known, G) uint8
    name_emb: np.ndarray  # (G, d)
    parent_name_emb: np.ndarray | None = None
    parent_idx: np.ndarray | None = None  # (G,) index of each group's parent in level 1, or -1
    nn: Any = None
    lexical: gf.LexicalGroups | None = None
    km_known: np.ndarray | None = None
    sp_known: np.ndarray | None = None
    xgb: Any = None
    ovr: Any = None
    threshold: float = 0.5
    feature_names: list[str] = field(default_factory=list)


class GroupModel:
    """A trained skill-group classifier: ``predict`` ranks groups for skill strings."""

    def __init__(self, cfg: GroupConfig, encoder_path: str, known_emb: np.ndarray, known_texts: list[str],
                 levels: dict[int, LevelState], pca: Any = None, kmeans: Any = None, n_spectral: int = 0) -> None:
        self.cfg = cfg
        self.encoder_path = encoder_path
        self.known_emb = known_emb
        self.known_texts = known_texts
        self.levels = levels
        self.pca = pca
        self.kmeans = kmeans
        self.n_spectral = n_spectral
        self.metrics: dict[str, Any] = {}
        self._encoder = None
        self.onnx_dir: Path | None = None  # the model folder, once saved with an ONNX export

    # ---- embeddings -------------------------------------------------------------------------
    def encoder(self):  # noqa: ANN201 - common.text.embeddings.Encoder, imported lazily
        if self._encoder is None:
            from common.text.embeddings import Encoder

            self._encoder = Encoder(self.encoder_path, device=self.cfg.device, max_length=self.cfg.max_length,
                                    onnx_dir=self.onnx_dir)
        return self._encoder

    def embed(self, texts: Sequence[str], use_cache: bool = False, progress: bool = False) -> np.ndarray:
        from common.text.embeddings import embed_texts

        return embed_texts(list(texts), encoder=self.encoder(), batch_size=self.cfg.embed_batch_size,
                           use_cache=use_cache, progress=progress)

    # ---- scoring ----------------------------------------------------------------------------
    def proba(self, level: int, Q: np.ndarray, texts: Sequence[str], self_index: np.ndarray | None = None,
              nn_prob: np.ndarray | None = None) -> np.ndarray:
        """(n, G) group probabilities at ``level`` for embeddings ``Q`` of ``texts``."""
        st = self._level(level)
        if self_index is None:
            self_index = np.full(len(Q), -1, dtype=np.int64)
        if self.cfg.kind == "ovr":
            return st.ovr.predict_proba(Q).astype(np.float32)
        if nn_prob is None:
            nn_prob = st.nn.predict_proba(Q).astype(np.float32)
        parent_prob = None
        if st.parent_idx is not None and 1 in self.levels and self.levels[1].nn is not None:
            parent_prob = parent_probabilities(st, self.levels[1].nn.predict_proba(Q).astype(np.float32))
        X, rows, cols, _ = pair_features(self, st, Q, texts, self_index, nn_prob, parent_prob)
        out = np.zeros((len(Q), len(st.codes)), dtype=np.float32)
        if len(rows):
            out[rows, cols] = st.xgb.predict_proba(X)[:, 1]
        return out

    def _level(self, level: int) -> LevelState:
        if level not in self.levels:
            raise ValueError(f"this group model has no level {level} (it has {sorted(self.levels)})")
        return self.levels[level]

    def _scores(self, skills: list[str], level: int) -> tuple[LevelState, list[str], np.ndarray]:
        st = self._level(level)
        skills = [" ".join(str(s).split()) for s in skills]
        if not skills:
            return st, skills, np.zeros((0, len(st.codes)), dtype=np.float32)
        return st, skills, self.proba(level, self.embed(skills), skills)

    @staticmethod
    def _scored(st: LevelState, level: int, row: np.ndarray, idx: Sequence[int]) -> list[GroupScore]:
        return [GroupScore(code=st.codes[j], label=st.labels[j], level=level, score=float(row[j])) for j in idx]

    def predict(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[list[GroupScore]]:
        """The ``top_k`` groups for each skill string, best first, with probabilities."""
        return [d.ranked for d in self.decide(skills, level=level, top_k=top_k)]

    def assign(self, skills: list[str], level: int = 2) -> list[list[GroupScore]]:
        """The groups each skill is put in (threshold rule, at least one), best first."""
        return [d.groups for d in self.decide(skills, level=level, top_k=1)]

    def decide(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[GroupDecision]:
        """Per skill, the model's decision (``groups``: the tuned threshold rule, at least one,
        best first) and the ``top_k`` ranking, from one scoring pass.

        Both are needed by callers: the decision is what the model claims (what matching and
        the CLI use), the ranking is what a person browses; computing them apart doubled the cost.
        """
        st, skills, P = self._scores(skills, level)
        chosen = decide(P, st.threshold)
        out = []
        for row, mask in zip(P, chosen, strict=True):
            order = np.argsort(-row, kind="stable")
            out.append(GroupDecision(groups=self._scored(st, level, row, [j for j in order if mask[j]]),
                                     ranked=self._scored(st, level, row, order[:top_k]),
                                     threshold=float(st.threshold)))
        return out

    def threshold(self, level: int) -> float:
        return float(self._level(level).threshold)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Write the model folder (joblib state, JSON summary, encoder copy unless default)."""
        import joblib

        from common.core.settings import get_settings

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        enc_ref = self.encoder_path
        default = str(Path(get_settings().encoder_path).resolve())
        if str(Path(self.encoder_path).resolve()) == default:
            enc_ref = DEFAULT_ENCODER
        elif Path(self.encoder_path).resolve() != (model_dir / ENCODER_DIR).resolve():
            dst = model_dir / ENCODER_DIR
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(self.encoder_path, dst)
            enc_ref = ENCODER_DIR
        else:
            enc_ref = ENCODER_DIR
        state = {
            "cfg": self.cfg.model_dump(), "encoder": enc_ref, "known_emb": self.known_emb,
            "known_texts": self.known_texts, "levels": self.levels, "pca": self.pca,
            "kmeans": self.kmeans, "n_spectral": self.n_spectral, "metrics": self.metrics,
        }
        joblib.dump(state, model_dir / MODEL_FILE, compress=3)
        meta = {
            "kind": self.cfg.kind, "name": self.cfg.name, "encoder": enc_ref,
            "levels": {str(k): {"groups": len(v.codes), "threshold": v.threshold} for k, v in self.levels.items()},
            "metrics": self.metrics, "config": self.cfg.model_dump(),
        }
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        if self.cfg.export_onnx:
            self.export_onnx(model_dir)
        return model_dir

    def save_metrics(self, model_dir: Path) -> None:
        """Rewrite the stored metrics (after scoring another backend) without re-exporting."""
        import joblib

        state = joblib.load(model_dir / MODEL_FILE)
        state["metrics"] = self.metrics
        joblib.dump(state, model_dir / MODEL_FILE, compress=3)
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
        meta["metrics"] = self.metrics
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")

    def export_onnx(self, model_dir: Path) -> None:
        """The encoder's ONNX exports (fp32, int8) in the model folder, for the ONNX backends."""
        from transformers import AutoModel

        from common.text.onnx_backend import export_encoder

        export_encoder(AutoModel.from_pretrained(self.encoder_path), model_dir)

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None) -> GroupModel:
        """Load a folder written by ``save`` (or a registry champion path)."""
        import joblib

        from common.core.settings import get_settings

        model_dir = Path(model_dir)
        path = model_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"no group model in {model_dir} (missing {MODEL_FILE})")
        state = joblib.load(path)
        cfg = GroupConfig.model_validate(state["cfg"])
        if device:
            cfg.device = device
        enc = state["encoder"]
        encoder_path = get_settings().encoder_path if enc == DEFAULT_ENCODER else str(model_dir / enc)
        model = cls(cfg, encoder_path, state["known_emb"], state["known_texts"], state["levels"],
                    state["pca"], state["kmeans"], state["n_spectral"])
        model.metrics = state.get("metrics", {})
        from common.text.onnx_backend import available_backends

        if len(available_backends(model_dir)) > 1:
            model.onnx_dir = model_dir
        return model


# ---- pair features ----------------------------------------------------------------------------

def parent_probabilities(st: LevelState, level1_prob: np.ndarray) -> np.ndarray:
    """(n, G): the level-1 network's probability of each level-2 group's parent (0 without one)."""
    out = np.zeros((len(level1_prob), len(st.codes)), dtype=np.float32)
    has = st.parent_idx >= 0
    out[:, has] = level1_prob[:, st.parent_idx[has]]
    return out


def pair_features(model: GroupModel, st: LevelState, Q: np.ndarray, texts: Sequence[str],
                  self_index: np.ndarray, nn_prob: np.ndarray, parent_prob: np.ndarray | None = None,
                  folds: np.ndarray | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Feature rows for each query's candidate groups: (X, query rows, group cols, names).

    ``parent_prob`` (level 2 only): the level-1 network's probability of the group's parent,
    out-of-fold for training skills like ``nn_prob``. ``folds``: the known skills' fold ids
    (training features); a training query's group statistics come from the other folds.
    """
    q_fold = k_fold = None
    if folds is not None:
        k_fold = folds
        q_fold = np.where(self_index >= 0, folds[np.maximum(self_index, 0)], -1)
    cfg = model.cfg
    feats = set(cfg.features)
    n, G = len(Q), len(st.codes)
    K = model.known_emb
    topk = gf.topk_group_similarity(Q, K, st.Y, self_index)  # (n, G, 3)
    # candidates: top-N by the network, plus top-N/3 by nearest-skill similarity
    n_cand = min(G, cfg.candidates.get(st.level, G))
    cand = np.zeros((n, G), dtype=bool)
    np.put_along_axis(cand, np.argsort(-nn_prob, axis=1)[:, :n_cand], True, axis=1)
    np.put_along_axis(cand, np.argsort(-topk[:, :, 0], axis=1)[:, : max(1, n_cand // 3)], True, axis=1)
    rows, cols = np.nonzero(cand)

    blocks: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, mat: np.ndarray) -> None:
        blocks.append(mat[rows, cols].astype(np.float32)[:, None])
        names.append(name)

    def rank_of(mat: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(-mat, axis=1), axis=1).astype(np.float32)

    if "nn" in feats:
        add("nn_prob", nn_prob)
        add("nn_rank", rank_of(nn_prob))
        if parent_prob is not None:
            add("parent_nn_prob", parent_prob)
    if "name" in feats:
        add("name_cos", Q @ st.name_emb.T)
        if st.parent_name_emb is not None:
            add("parent_name_cos", Q @ st.parent_name_emb.T)
    if "topk" in feats:
        for j, k in enumerate((1, 2, 3)):
            add(f"top{k}_sim", topk[:, :, j])
        add("top1_rank", rank_of(topk[:, :, 0]))
    need_nn = "tfidf" in feats or "clusters" in feats
    if need_nn:
        nn_idx, _ = gf.nearest_known(Q, K, self_index, k=max(5, cfg.tfidf_neighbours))
    if "tfidf" in feats:
        add("tfidf_knn", gf.neighbour_tfidf(nn_idx, st.Y, cfg.tfidf_neighbours))
    if "clusters" in feats:
        Qr = model.pca.transform(Q) if model.pca is not None else Q
        km_q = model.kmeans.predict(Qr.astype(model.kmeans.cluster_centers_.dtype))
        add("kmeans_share", gf.cluster_group_share(km_q, st.km_known, st.Y, model.kmeans.n_clusters, q_fold, k_fold))
        sp_q = _majority(st.sp_known[nn_idx[:, :5]], model.n_spectral)
        add("spectral_share", gf.cluster_group_share(sp_q, st.sp_known, st.Y, model.n_spectral, q_fold, k_fold))
        add("kmeans_id", np.repeat(km_q[:, None], G, axis=1))
        add("spectral_id", np.repeat(sp_q[:, None], G, axis=1))
    if "lexical" in feats and st.lexical is not None:
        lex = st.lexical.transform(texts, q_fold, k_fold)
        add("lexical_cos", lex)
        add("lexical_rank", rank_of(lex))
    if "size" in feats:
        # the same value for every skill: a leave-one-out size would reveal the skill's membership
        size = np.repeat(st.Y.sum(axis=0).astype(np.float32)[None, :], n, axis=0)
        add("group_log_size", np.log1p(size))
        add("group_id", np.repeat(np.arange(G, dtype=np.float32)[None, :], n, axis=0))
    if "embedding" in feats and model.pca is not None:
        Qr = model.pca.transform(Q).astype(np.float32)
        blocks.append(Qr[rows])
        names.extend(f"emb{i}" for i in range(Qr.shape[1]))
    X = np.hstack(blocks) if blocks else np.zeros((len(rows), 0), dtype=np.float32)
    return X, rows, cols, names


def _majority(labels: np.ndarray, n_labels: int) -> np.ndarray:
    counts = np.zeros((labels.shape[0], max(n_labels, 1)), dtype=np.int32)
    for j in range(labels.shape[1]):
        np.add.at(counts, (np.arange(labels.shape[0]), labels[:, j]), 1)
    return counts.argmax(axis=1)


# ---- training ---------------------------------------------------------------------------------

@dataclass
class GroupTrainResult:
    model_dir: Path | None
    metrics: dict[str, Any]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    model: GroupModel | None = None


def spectral_labels(X: np.ndarray, n_clusters: int, n_neighbors: int, max_points: int, seed: int) -> np.ndarray:
    """Spectral cluster labels for all rows; fitted on at most ``max_points`` rows (its cost grows
    much faster than linearly), the others take the majority label of their 5 nearest sampled rows."""
    from sklearn.cluster import SpectralClustering

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(X), size=min(max_points, len(X)), replace=False))
    Xs = X[sample]
    sc = SpectralClustering(n_clusters=min(n_clusters, len(Xs) // 2), affinity="nearest_neighbors",
                            n_neighbors=min(n_neighbors, len(Xs) - 1), eigen_solver=_eigen_solver(len(Xs)),
                            assign_labels="cluster_qr", random_state=seed)
    with summarised_warnings("spectral clustering", logger):  # lobpcg tolerance warnings print arrays
        lab_s = sc.fit_predict(Xs)
    labels = np.empty(len(X), dtype=np.int64)
    labels[sample] = lab_s
    rest = np.setdiff1d(np.arange(len(X)), sample)
    if rest.size:
        Xn = Xs / np.maximum(np.linalg.norm(Xs, axis=1, keepdims=True), 1e-9)
        Xr = X[rest] / np.maximum(np.linalg.norm(X[rest], axis=1, keepdims=True), 1e-9)
        idx, _ = gf.nearest_known(Xr.astype(np.float32), Xn.astype(np.float32), np.full(len(rest), -1), k=min(5, len(Xs)))
        labels[rest] = _majority(lab_s[idx], int(lab_s.max()) + 1)
    return labels


def _eigen_solver(n: int) -> str:
    """``amg`` (pyamg) for thousands of skills: ARPACK needs many minutes for 150 eigenvectors."""
    if n < 500:
        return "arpack"
    try:
        import pyamg  # noqa: F401
    except ImportError:
        return "arpack"
    return "amg"


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _mlp(cfg: GroupConfig, seed: int):  # noqa: ANN202 - sklearn estimator
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(cfg.nn_hidden,), alpha=cfg.nn_alpha, max_iter=cfg.nn_epochs,
                         batch_size=128, learning_rate_init=1e-3, random_state=seed)


def _fit_proba(est: Any, X: np.ndarray, Y: np.ndarray, Xq: np.ndarray) -> np.ndarray:
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


class _Masked:
    """An estimator trained on a subset of label columns that still answers for all of them."""

    def __init__(self, est: Any, keep: np.ndarray) -> None:
        self.est, self.keep = est, keep

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), len(self.keep)), dtype=np.float32)
        p = np.asarray(self.est.predict_proba(X), dtype=np.float32).reshape(len(X), -1)
        out[:, self.keep] = p[:, 1:] if self.keep.sum() == 1 and p.shape[1] == 2 else p
        return out


class _MeanOf:
    """Mean probabilities of several estimators (the fold networks of ``oof_nn_proba``, or the
    fold XGBoost models of ``_xgb_cross_fit``).

    Why: XGBoost learnt from out-of-fold probabilities, each made by a network that saw 80 % of
    train; averaging those same networks at prediction time keeps the feature's distribution the
    one XGBoost was fitted on, and averages away the seed-to-seed noise of a single network.
    """

    def __init__(self, members: list[_Masked]) -> None:
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
                 ids: np.ndarray | None = None) -> tuple[np.ndarray, _Masked]:
    """Out-of-fold network probabilities for the training queries, and the full-data network.

    The folds are ``ids`` (default ``fold_ids``): the same split the group statistics and the
    XGBoost fits use; every view of one skill sits in that skill's fold.
    """
    oof = np.zeros(Y.shape, dtype=np.float32)
    ids = fold_ids(cfg, len(K)) if ids is None else ids
    members: list[_Masked] = []
    for f in range(int(ids.max()) + 1):
        tr, te = np.nonzero(ids != f)[0], np.nonzero(ids == f)[0]
        est = _mlp(cfg, cfg.seed + f)
        oof[te] = _fit_proba(est, K[tr], Y[tr], K[te])
        if hasattr(est, "keep_"):
            members.append(_Masked(est, est.keep_))
    if cfg.nn_inference == "folds" and members:
        return oof, _MeanOf(members)
    est = _mlp(cfg, cfg.seed)
    _fit_proba(est, K, Y, K[:1])
    return oof, _Masked(est, est.keep_)


def _groups_frame_lookup(groups_df: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    labels = dict(zip(groups_df["code"].astype(str), groups_df["label"].astype(str), strict=False))
    parents = dict(zip(groups_df["code"].astype(str), groups_df["parent_code"].astype(str), strict=False))
    return labels, parents


def _xgb(cfg: GroupConfig, n_estimators: int | None = None, early: bool = True):  # noqa: ANN202
    from xgboost import XGBClassifier

    p = cfg.xgb
    return XGBClassifier(
        n_estimators=n_estimators or p.n_estimators, max_depth=p.max_depth, learning_rate=p.learning_rate,
        subsample=p.subsample, colsample_bytree=p.colsample_bytree, min_child_weight=p.min_child_weight,
        tree_method="hist", n_jobs=cfg.threads or 0, random_state=cfg.seed, eval_metric="logloss",
        early_stopping_rounds=p.early_stopping_rounds if early else None,
    )


def _trees_used(clf: Any, cfg: GroupConfig) -> int:
    """Trees an early-stopped XGBoost model kept (all of them when it did not stop early)."""
    return int(getattr(clf, "best_iteration", cfg.xgb.n_estimators - 1) or 0) + 1


def _xgb_inner_fit(cfg: GroupConfig, X: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   inner: np.ndarray, shape: tuple[int, int]) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """XGBoost on the pairs of train minus the inner split (early stopping on it), then refit on all.

    Returns the model, the inner split's probabilities (``shape``), its skill indices, and the tree count.
    """
    in_inner = inner[rows]
    clf = _xgb(cfg)
    clf.fit(X[~in_inner], y[~in_inner], eval_set=[(X[in_inner], y[in_inner])], verbose=False)
    best_it = _trees_used(clf, cfg)
    P = np.zeros(shape, dtype=np.float32)
    P[rows[in_inner], cols[in_inner]] = clf.predict_proba(X[in_inner])[:, 1]
    if cfg.refit:
        clf = _xgb(cfg, n_estimators=max(1, int(best_it * 1.1)), early=False)
        clf.fit(X, y, verbose=False)
    return clf, P, np.nonzero(inner)[0], best_it


def _xgb_cross_fit(cfg: GroupConfig, X: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
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
        clf = _xgb(cfg)
        clf.fit(X[~held], y[~held], eval_set=[(X[held], y[held])], verbose=False)
        trees.append(_trees_used(clf, cfg))
        P[rows[held], cols[held]] = clf.predict_proba(X[held])[:, 1]
        members.append(clf)
    return _MeanOf(members), P, np.unique(rows), int(np.mean(trees))


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
    _set_threads(cfg.threads)
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
    metrics = _training_metrics(model, dev_df, fit.inner, embed_cache, progress, timings)
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
        self.labels_map, self.parents_map = _groups_frame_lookup(groups_df)
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
        Y = _codes_matrix(self.train_df[col].tolist(), codes)
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
        _fit_proba(est, K, st.Y, K[:1])
        st.ovr = _Masked(est, st.Y.any(axis=0))
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
            st.xgb, P_fit, fit_idx, best_it = _xgb_cross_fit(cfg, X, y, rows, cols, q_folds, Y.shape)
        else:
            st.xgb, P_fit, fit_idx, best_it = _xgb_inner_fit(cfg, X, y, rows, cols, self.inner_mask[owner], Y.shape)
        if cfg.threshold is None:
            st.threshold, inner_f1 = best_threshold(Y[fit_idx], P_fit[fit_idx])
        else:
            st.threshold = cfg.threshold
            inner_f1 = multilabel_report(Y[fit_idx], decide(P_fit[fit_idx], st.threshold))["micro_f1"]
        timings[f"xgb_l{level}"] = time.perf_counter() - t1
        logger.info("level %d: XGBoost %d trees, threshold %.3f, inner micro-F1 %.3f in %.1fs",
                    level, best_it, st.threshold, inner_f1, timings[f"xgb_l{level}"])
        self.inner[level] = (float(inner_f1), float(recall), int(best_it))


def _training_metrics(model: GroupModel, dev_df: pd.DataFrame | None, inner: dict[int, tuple[float, float, int]],
                      embed_cache: bool, progress: bool, timings: dict[str, float]) -> dict[str, Any]:
    """Dev metrics per level (when there is a dev frame), the training-side figures, thresholds."""
    metrics: dict[str, Any] = {}
    if dev_df is not None and len(dev_df):
        t0 = time.perf_counter()
        metrics = evaluate_groups(model, dev_df, embed_cache=embed_cache, progress=progress)
        if model.cfg.text_field != "label" and "label" in dev_df.columns:
            metrics["label_input"] = evaluate_groups(model, dev_df, embed_cache=embed_cache, field="label")
        timings["evaluate"] = time.perf_counter() - t0
    for level, (f1, recall, trees) in inner.items():
        metrics.setdefault(f"l{level}", {}).update(
            {"inner_micro_f1": f1, "train_candidate_recall": recall, "xgb_trees": trees})
    for level, st in model.levels.items():
        metrics.setdefault(f"l{level}", {})["threshold"] = st.threshold
    return metrics


def evaluate_groups(model: GroupModel, dev_df: pd.DataFrame, embed_cache: bool = True,
                    progress: bool = False, field: str | None = None) -> dict[str, Any]:
    """Per-level pair P/R/F1 (= micro-F1), macro-F1, samples-F1 and candidate recall on ``dev_df``.

    ``field`` (default the model's ``text_field``) picks the input column: ``label`` scores the
    short phrases the service is sent rather than ESCO's long texts.
    """
    texts = dev_df[field or model.cfg.text_field].astype(str).tolist()
    Q = model.embed(texts, use_cache=embed_cache, progress=progress)
    out: dict[str, Any] = {}
    for level, st in model.levels.items():
        col = f"groups_l{level}"
        Yd = _codes_matrix(dev_df[col].tolist(), st.codes)
        unknown = sum(1 for cs in dev_df[col] for c in cs if c not in set(st.codes))
        P = model.proba(level, Q, texts)
        rep = multilabel_report(Yd, decide(P, st.threshold))
        rep["candidate_recall"] = float(((P > 0) & (Yd > 0)).sum() / max(1, Yd.sum())) if model.cfg.kind == "skillbert" else 1.0
        rep["unknown_gold_pairs"] = int(unknown)
        out[f"l{level}"] = rep
    return out


def latest_model_dir() -> Path:
    """``<data_dir>/models/<group_model_name>/latest``: where ``train-groups`` saves by default."""
    from common.core.artifacts import latest_dir
    from common.core.settings import get_settings

    return latest_dir(get_settings().group_model_name)


def default_model_dir() -> Path:
    """The registry champion's folder when there is one, else ``latest_model_dir()``."""
    from common import registry
    from common.core.settings import get_settings

    return registry.champion_or_latest(get_settings().group_model_name, latest_model_dir())
