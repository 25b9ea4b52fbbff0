"""Multi-label metrics for skill groups and the decision rule that turns scores into groups.

Why these metrics: SkillBERT reports class-1 precision/recall/F1 over (skill, group) pairs.
Over a 0/1 label matrix that is exactly micro-averaged F1 over skills, so ``pair_f1`` and
``micro_f1`` are the same number (both are reported because both names are in use).
Macro-F1 averages the per-group F1, so small groups count as much as big ones.
"""

from __future__ import annotations

import numpy as np


def decide(proba: np.ndarray, threshold: float, min_groups: int = 1) -> np.ndarray:
    """Groups whose score reaches ``threshold``, and at least the ``min_groups`` best per skill."""
    pred = proba >= threshold
    if min_groups > 0 and proba.shape[1]:
        top = np.argsort(-proba, axis=1)[:, :min_groups]
        np.put_along_axis(pred, top, True, axis=1)
    return pred


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Pair (class-1) P/R/F1 = micro over skills, macro-F1 over groups, samples-F1."""
    from sklearn.metrics import f1_score

    y_true = y_true.astype(bool)
    y_pred = y_pred.astype(bool)
    tp = float((y_true & y_pred).sum())
    fp = float((~y_true & y_pred).sum())
    fn = float((y_true & ~y_pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    present = y_true.any(axis=0) | y_pred.any(axis=0)
    macro = float(f1_score(y_true[:, present], y_pred[:, present], average="macro", zero_division=0)) if present.any() else 0.0
    samples = float(f1_score(y_true, y_pred, average="samples", zero_division=0)) if len(y_true) else 0.0
    return {
        "pair_precision": p,
        "pair_recall": r,
        "pair_f1": f1,
        "micro_f1": f1,
        "macro_f1": macro,
        "samples_f1": samples,
        "n_skills": int(len(y_true)),
        "n_pairs_true": int(y_true.sum()),
    }


def best_threshold(y_true: np.ndarray, proba: np.ndarray, grid: np.ndarray | None = None) -> tuple[float, float]:
    """The threshold on ``grid`` with the best micro-F1 (under the at-least-one rule)."""
    grid = np.round(np.arange(0.1, 0.81, 0.025), 3) if grid is None else grid
    best = (0.5, -1.0)
    for t in grid:
        f = multilabel_report(y_true, decide(proba, float(t)))["micro_f1"]
        if f > best[1]:
            best = (float(t), f)
    return best
