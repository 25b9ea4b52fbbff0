"""Scoring a group model on held-out skills (micro/macro F1 per level) and its training summary."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from common.groups.metrics import decide, multilabel_report
from common.groups.model import GroupModel, codes_matrix


def training_metrics(model: GroupModel, dev_df: pd.DataFrame | None, inner: dict[int, tuple[float, float, int]],
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
        Yd = codes_matrix(dev_df[col].tolist(), st.codes)
        unknown = sum(1 for cs in dev_df[col] for c in cs if c not in set(st.codes))
        P = model.proba(level, Q, texts)
        rep = multilabel_report(Yd, decide(P, st.threshold))
        rep["candidate_recall"] = float(((P > 0) & (Yd > 0)).sum() / max(1, Yd.sum())) if model.cfg.kind == "skillbert" else 1.0
        rep["unknown_gold_pairs"] = int(unknown)
        out[f"l{level}"] = rep
    return out
