"""Core vs fringe: is a skill essential or optional for an occupation (SkillBERT's question)?

For an ESCO occupation the relation file answers it (``OccupationRanker.importance``). This
classifier answers it for an occupation it never saw (a new ESCO occupation, a company's own
role): XGBoost over pair features of (occupation, skill), every count taken over training
occupations only, and leave-one-out for the training pairs themselves (a pair must not vote for
its own label):

- ``cos_text`` / ``cos_title``: the skill's name against the occupation's text and preferred label;
- ``knowledge``, ``reuse``: the skill's type and ESCO reuse level (``-1`` unknown);
- ``n_train``, ``essential_rate``: how many training occupations list the skill, and the smoothed
  share of them that call it essential;
- ``centrality``, ``centrality_rank``: the skill's mean cosine with the occupation's other listed
  skills, and its rank among them (core skills sit in the middle of a profile);
- ``neighbour_essential`` / ``neighbour_optional``: similarity-weighted share of the ``neighbours``
  nearest training occupations (by text) that list the skill as essential / optional;
- ``size``: how many skills the occupation lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.occupations.config import ImportanceParams, OccupationConfig
from common.occupations.taxonomy import OccupationTaxonomy

PAIR_FEATURES = ("cos_text", "cos_title", "knowledge", "reuse", "n_train", "essential_rate", "centrality",
                 "centrality_rank", "neighbour_essential", "neighbour_optional", "size")
REUSE = {"transversal": 0, "cross-sector": 1, "sector-specific": 2, "occupation-specific": 3}
IMPORTANCE_FILE = "importance.json"


@dataclass
class PairContext:
    """What the features need, all from training occupations: the skills' vectors and stats,
    and the training occupations' text vectors with their essential/optional skill sets."""

    skill_emb: dict[str, np.ndarray]
    skill_type: dict[str, str]
    reuse: dict[str, str]
    counts: dict[str, tuple[int, int]]  # skill -> (training occupations listing it, of which essential)
    train_uris: list[str]
    train_emb: np.ndarray
    train_sets: list[tuple[set[str], set[str]]]  # (essential, optional) per training occupation
    neighbours: int = 10


def pair_features(ctx: PairContext, occ_text_emb: np.ndarray, occ_title_emb: np.ndarray, skills: list[str],
                  self_uri: str | None = None, own_labels: list[str] | None = None) -> np.ndarray:
    """Features (len(skills), len(PAIR_FEATURES)) of one occupation's skills. ``self_uri`` and
    ``own_labels``: the occupation is a training one, so its own pairs leave themselves out."""
    dim = occ_text_emb.shape[0]
    E = np.stack([ctx.skill_emb.get(s, np.zeros(dim, dtype=np.float32)) for s in skills]) if skills else \
        np.zeros((0, dim), dtype=np.float32)
    n = len(skills)
    sim = E @ E.T if n else np.zeros((0, 0), dtype=np.float32)
    centrality = (sim.sum(axis=1) - np.diag(sim)) / max(n - 1, 1) if n else np.zeros(0)
    rank = (np.argsort(np.argsort(-centrality)) / max(n - 1, 1)) if n else np.zeros(0)
    near = ctx.train_emb @ occ_text_emb
    order = [i for i in np.argsort(-near) if ctx.train_uris[i] != self_uri][: ctx.neighbours]
    wsum = float(np.clip(near[order], 0, None).sum()) or 1.0
    rows = []
    for i, s in enumerate(skills):
        listed, ess = ctx.counts.get(s, (0, 0))
        if self_uri is not None and own_labels is not None:
            listed, ess = listed - 1, ess - (own_labels[i] == "essential")
        n_ess = sum(max(near[j], 0) for j in order if s in ctx.train_sets[j][0]) / wsum
        n_opt = sum(max(near[j], 0) for j in order if s in ctx.train_sets[j][1]) / wsum
        rows.append([float(E[i] @ occ_text_emb), float(E[i] @ occ_title_emb),
                     {"knowledge": 1.0, "skill/competence": 0.0}.get(ctx.skill_type.get(s, ""), 0.5),
                     REUSE.get(ctx.reuse.get(s, ""), -1), np.log1p(max(listed, 0)), (ess + 1) / (listed + 2),
                     centrality[i], rank[i], n_ess, n_opt, np.log1p(n)])
    return np.asarray(rows, dtype=np.float32).reshape(n, len(PAIR_FEATURES))


@dataclass
class ImportanceModel:
    """The fitted classifier, its threshold (chosen on dev occupations) and its figures."""

    booster: Any
    threshold: float
    params: ImportanceParams
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        return self.booster.predict(xgb.DMatrix(X, feature_names=list(PAIR_FEATURES)))

    def save(self, d: Path) -> None:
        self.booster.save_model(d / "importance.ubj")
        (d / IMPORTANCE_FILE).write_text(json.dumps({"threshold": self.threshold, "features": list(PAIR_FEATURES),
                                                     "params": self.params.model_dump(), "metrics": self.metrics},
                                                    indent=2), encoding="utf-8")

    @classmethod
    def load(cls, d: Path) -> ImportanceModel:
        import xgboost as xgb

        meta = json.loads((d / IMPORTANCE_FILE).read_text(encoding="utf-8"))
        if meta.get("features") != list(PAIR_FEATURES):
            raise ValueError(f"{d / IMPORTANCE_FILE} was fitted on other features: {meta.get('features')}")
        booster = xgb.Booster()
        booster.load_model(d / "importance.ubj")
        return cls(booster, float(meta["threshold"]), ImportanceParams.model_validate(meta["params"]), meta["metrics"])


def binary_figures(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"f1_essential": round(float(f1_score(y, pred, zero_division=0)), 4),
            "accuracy": round(float(accuracy_score(y, pred)), 4)}


def build_context(occupations: OccupationTaxonomy, skill_emb: dict[str, np.ndarray], skill_meta: pd.DataFrame,
                  occ_text_emb: np.ndarray, neighbours: int) -> PairContext:
    """Counts and neighbour sets over the training occupations only."""
    occ = occupations.occupations
    train_rows = np.nonzero((occ["split"] == "train").to_numpy())[0]
    train_uris = occ["uri"].to_numpy()[train_rows].tolist()
    rel = occupations.relations[occupations.relations["occupation_uri"].isin(set(train_uris))]
    grouped = rel.groupby("skill_uri")["relation_type"]
    counts = {s: (len(v), int((v == "essential").sum())) for s, v in grouped}
    sets = [tuple(set(occupations.skills_of(u)[r]) for r in ("essential", "optional")) for u in train_uris]
    types = dict(zip(occupations.relations["skill_uri"], occupations.relations["skill_type"], strict=True))
    reuse = dict(zip(skill_meta["uri"], skill_meta.get("reuse_level", pd.Series([""] * len(skill_meta))), strict=True))
    return PairContext(skill_emb, types, reuse, counts, train_uris, occ_text_emb[train_rows], sets, neighbours)


def split_pairs(ctx: PairContext, occupations: OccupationTaxonomy, occ_text_emb: np.ndarray,
                occ_title_emb: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels 1 = essential, whether the skill is essential for any training occupation)."""
    occ = occupations.occupations
    X, y, any_ess = [], [], []
    for j in np.nonzero((occ["split"] == split).to_numpy())[0]:
        uri = occ.at[j, "uri"]
        need = occupations.skills_of(uri)
        skills = need["essential"] + need["optional"]
        labels = ["essential"] * len(need["essential"]) + ["optional"] * len(need["optional"])
        own = split == "train"
        X.append(pair_features(ctx, occ_text_emb[j], occ_title_emb[j], skills, uri if own else None,
                               labels if own else None))
        y += [lab == "essential" for lab in labels]
        for s, lab in zip(skills, labels, strict=True):
            listed, ess = ctx.counts.get(s, (0, 0))
            any_ess.append(ess - (own and lab == "essential") > 0)
    return np.concatenate(X), np.asarray(y, dtype=np.int32), np.asarray(any_ess, dtype=np.int32)


def fit_classifier(params: ImportanceParams, X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    import xgboost as xgb

    dtrain = xgb.DMatrix(X, label=y, feature_names=list(PAIR_FEATURES))
    return xgb.train({"objective": "binary:logistic", "eta": params.learning_rate, "max_depth": params.max_depth,
                      "subsample": params.subsample, "colsample_bytree": params.colsample_bytree, "seed": seed,
                      "nthread": 1, "eval_metric": "logloss"}, dtrain, num_boost_round=params.n_estimators)


def choose_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The probability cut that maximises essential-F1 on dev (a grid of 0.05 steps)."""
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.2, 0.81, 0.05), 2)
    return float(max(grid, key=lambda t: f1_score(y, (p >= t).astype(int), zero_division=0)))


def fit_importance_model(cfg: OccupationConfig, ctx: PairContext, occupations: OccupationTaxonomy,
                         occ_text_emb: np.ndarray, occ_title_emb: np.ndarray) -> ImportanceModel:
    """Fit on training occupations, pick the threshold on dev, report test beside the baselines."""
    Xtr, ytr, _ = split_pairs(ctx, occupations, occ_text_emb, occ_title_emb, "train")
    booster = fit_classifier(cfg.importance, Xtr, ytr, cfg.seed)
    model = ImportanceModel(booster, 0.5, cfg.importance)
    metrics: dict[str, Any] = {"train_pairs": int(len(ytr)), "train_essential_share": round(float(ytr.mean()), 4)}
    Xd, yd, _ = split_pairs(ctx, occupations, occ_text_emb, occ_title_emb, "dev")
    if len(yd):
        model.threshold = choose_threshold(model.predict_proba(Xd), yd)
        metrics["dev"] = binary_figures(yd, (model.predict_proba(Xd) >= model.threshold).astype(int))
    Xt, yt, any_t = split_pairs(ctx, occupations, occ_text_emb, occ_title_emb, "test")
    if len(yt):
        majority = int(ytr.mean() >= 0.5)
        metrics["test"] = {"classifier": binary_figures(yt, (model.predict_proba(Xt) >= model.threshold).astype(int)),
                           "majority_class": binary_figures(yt, np.full_like(yt, majority)),
                           "essential_anywhere": binary_figures(yt, any_t), "pairs": int(len(yt))}
    metrics["threshold"] = model.threshold
    model.metrics = metrics
    return model
