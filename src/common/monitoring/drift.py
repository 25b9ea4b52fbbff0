"""Drift check: a window of served postings against the training reference, with Evidently 0.7.

Three kinds of evidence are compared, each with a configured test and threshold:

* text descriptors (``common.monitoring.descriptors``): length, out-of-vocabulary rate with respect to the
  training vocabulary, share of predicted keywords that are unknown skills;
* prediction drift: keywords per posting, mean keyword confidence, and the distribution of the
  postings' dominant skill group when the group model was called;
* embedding drift on the configured encoder's posting embeddings (mean of line embeddings).

Each numeric/categorical feature is an Evidently ``ValueDrift`` test; the embeddings use
``EmbeddingsDrift``. The window is declared drifted when the share of drifted features reaches
``drift_share`` — Evidently's own dataset-drift rule — so one noisy signal cannot start a
retraining on its own, while a real shift moves several at once.

The reference profile (training texts, cross-fitted descriptors, the model's predictions on the
training texts, embeddings, vocabulary) is built once from SkillSpan train and stored as files,
so a check only embeds the window.
"""


from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from common.monitoring.config import EMBEDDING_NAME, GROUP_COLUMN, DriftConfig, FeatureTest
from common.monitoring.descriptors import (
    DESCRIPTOR_COLUMNS,
    MonitoredItem,
    describe_all,
)
from common.monitoring.embedder import Embedder, TextEmbedder, embed
from common.monitoring.reference import ReferenceProfile, dominant_group


# ---------------------------------------------------------------------------------------- result
class FeatureEvidence(BaseModel):
    """One feature's verdict, with enough numbers for a person to judge it."""

    feature: str
    kind: Literal["descriptor", "prediction", "embedding"]
    method: str
    score: float | None = Field(None, description="Evidently's drift score: p-value for tests, else distance/AUC.")
    threshold: float | None = None
    drifted: bool = False
    reference_value: float | None = Field(None, description="Reference mean (or top-group share).")
    current_value: float | None = None
    skipped: str | None = Field(None, description="Why the feature was not tested (e.g. constant, absent).")


class DriftResult(BaseModel):
    """The decision of one check and its evidence (what the flow records and the CLI prints)."""

    drift_detected: bool
    decided: bool = Field(True, description="False when the window was too small to decide.")
    share_drifted: float
    drift_share: float
    n_current: int
    n_reference: int
    features: list[FeatureEvidence]
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="Caveats that are not drift (e.g. model changed).")
    checked_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    reference: dict[str, Any] = Field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def summary(self) -> str:
        if not self.decided:
            return self.reasons[0] if self.reasons else "window too small to decide"
        tested = [f for f in self.features if f.skipped is None]
        verdict = "DRIFT" if self.drift_detected else "no drift"
        return (
            f"{verdict}: {len(self.drifted_features)}/{len(tested)} features drifted "
            f"(share {self.share_drifted:.2f}, threshold {self.drift_share:.2f})"
        )


@dataclass
class DriftOutcome:
    """A check's result plus the Evidently snapshot (for the workspace and the HTML page)."""

    result: DriftResult
    snapshot: Any = None


# ------------------------------------------------------------------------------------------ check
_P_VALUE_METHODS = {"ks", "chisquare", "z", "fisher_exact", "mannw", "t_test", "anderson",
                    "cramer_von_mises", "g_test", "epps_singleton", "hellinger_p", "TVD"}


def _finite_mean(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.mean()) if len(v) else None


def _skip_reason(ref: pd.Series, cur: pd.Series) -> str | None:
    r, c = ref.dropna(), cur.dropna()
    if len(r) < 2 or len(c) < 2:
        return "fewer than 2 values on one side"
    if r.nunique() <= 1 and c.nunique() <= 1 and (r.iloc[0] == c.iloc[0]):
        return "constant and equal on both sides"
    return None


def _is_drift(method: str, score: float, threshold: float) -> bool:
    if method in _P_VALUE_METHODS or method.endswith("p_value"):
        return score < threshold
    return score >= threshold


def check_drift(
    window: Sequence[MonitoredItem],
    reference: ReferenceProfile,
    cfg: DriftConfig,
    embedder: TextEmbedder | Embedder | None = None,
    timestamp: datetime | None = None,
    tags: Sequence[str] = (),
) -> DriftOutcome:
    """Compare ``window`` with ``reference``; returns the decision, evidence and snapshot.

    The steps: descriptor evidence, the dominant-group evidence, the embedding columns, one
    Evidently report over all of them, then the per-feature verdicts and the decision.
    """
    if len(window) < cfg.min_window:
        return DriftOutcome(DriftResult(
            drift_detected=False, decided=False, share_drifted=0.0, drift_share=cfg.drift_share,
            n_current=len(window), n_reference=len(reference.descriptors), features=[],
            reasons=[f"window has {len(window)} postings, fewer than min_window={cfg.min_window}: no decision"],
            reference=reference.meta,
        ))
    frames = _DriftFrames(
        cur=pd.DataFrame(describe_all(window, reference.vocab), columns=list(DESCRIPTOR_COLUMNS)),
        ref=reference.descriptors[list(DESCRIPTOR_COLUMNS)].reset_index(drop=True),
    )
    evidence, tested_numeric = _descriptor_evidence(frames, cfg)
    group_ev, group_test = _group_evidence(frames, window, reference, cfg)
    evidence.append(group_ev)
    emb_cols = _add_embeddings(frames, window, reference, cfg, embedder)
    emb_method = cfg.embeddings.evidently_method() if emb_cols else None
    snapshot = _run_report(frames, cfg, tested_numeric, group_test, emb_cols, emb_method, window, reference,
                           timestamp, tags)
    scores, verdicts = _value_drift_results(snapshot)
    for ev in evidence:
        if ev.skipped is None and ev.feature in scores:
            ev.score = scores[ev.feature]
            ev.drifted = verdicts.get(ev.feature, _is_drift(ev.method, ev.score, float(ev.threshold)))
    evidence.append(_embedding_evidence(frames, cfg, emb_cols, emb_method))
    res = _decision(evidence, window, reference, cfg)
    _label_snapshot(snapshot, res)
    return DriftOutcome(res, snapshot)


@dataclass
class _DriftFrames:
    """The current window's and the reference's feature columns, side by side."""

    cur: pd.DataFrame
    ref: pd.DataFrame


def _descriptor_evidence(frames: _DriftFrames, cfg: DriftConfig) -> tuple[list[FeatureEvidence], list[tuple[str, FeatureTest]]]:
    """One evidence row per text descriptor, and the descriptors that can be tested."""
    evidence: list[FeatureEvidence] = []
    tested: list[tuple[str, FeatureTest]] = []
    for name in DESCRIPTOR_COLUMNS:
        test = cfg.features.get(name, FeatureTest())
        kind = "descriptor" if name in ("length_words", "oov_rate", "unknown_skill_share") else "prediction"
        ev = FeatureEvidence(feature=name, kind=kind, method=test.method, threshold=test.threshold,
                             reference_value=_finite_mean(frames.ref[name]),
                             current_value=_finite_mean(frames.cur[name]))
        ev.skipped = "disabled" if not test.enabled else _skip_reason(frames.ref[name], frames.cur[name])
        if ev.skipped is None:
            tested.append((name, test))
        evidence.append(ev)
    return evidence, tested


def _group_evidence(frames: _DriftFrames, window: Sequence[MonitoredItem], reference: ReferenceProfile,
                    cfg: DriftConfig) -> tuple[FeatureEvidence, FeatureTest | None]:
    """Dominant skill group per posting (only when both sides carry group predictions); adds the
    group column to both frames when it is compared."""
    cur_groups = [dominant_group(it.groups) for it in window] if any(it.groups is not None for it in window) else None
    if not (cfg.groups.enabled and reference.groups is not None and cur_groups is not None):
        return FeatureEvidence(feature=GROUP_COLUMN, kind="prediction", method=cfg.groups.method,
                               threshold=cfg.groups.threshold,
                               skipped="no group predictions on both sides" if cfg.groups.enabled else "disabled"), None
    ref_g = pd.Series(reference.groups, dtype="object").fillna("none")
    cur_g = pd.Series(cur_groups, dtype="object").fillna("none")
    top = ref_g.value_counts().index[0]
    ev = FeatureEvidence(feature=GROUP_COLUMN, kind="prediction", method=cfg.groups.method,
                         threshold=cfg.groups.threshold, reference_value=float((ref_g == top).mean()),
                         current_value=float((cur_g == top).mean()))
    ev.skipped = _skip_reason(ref_g, cur_g)
    frames.ref = frames.ref.assign(**{GROUP_COLUMN: ref_g.values})
    frames.cur = frames.cur.assign(**{GROUP_COLUMN: cur_g.values})
    return ev, (cfg.groups if ev.skipped is None else None)


def _add_embeddings(frames: _DriftFrames, window: Sequence[MonitoredItem], reference: ReferenceProfile,
                    cfg: DriftConfig, embedder: TextEmbedder | Embedder | None) -> list[str]:
    """Embed the window and append both sides' embedding columns; their names (none when off)."""
    if not cfg.embeddings.enabled:
        return []
    embedder = embedder or TextEmbedder.from_config(cfg)
    enc_name = embedder.encoder if isinstance(embedder, TextEmbedder) else None
    if enc_name and reference.meta.get("encoder") not in (None, enc_name):
        raise ValueError(
            f"reference profile was embedded with {reference.meta.get('encoder')!r} but the check uses "
            f"{enc_name!r}; rebuild the reference"
        )
    cur_emb = embed(embedder, [it.text for it in window])
    if cur_emb.shape[1] != reference.embeddings.shape[1]:
        raise ValueError("window and reference embeddings differ in size; rebuild the reference")
    cols = [f"emb_{i}" for i in range(cur_emb.shape[1])]
    frames.ref = pd.concat([frames.ref, pd.DataFrame(reference.embeddings, columns=cols)], axis=1)
    frames.cur = pd.concat([frames.cur, pd.DataFrame(cur_emb, columns=cols)], axis=1)
    return cols


def _run_report(frames: _DriftFrames, cfg: DriftConfig, tested_numeric: list[tuple[str, FeatureTest]],
                group_test: FeatureTest | None, emb_cols: list[str], emb_method: Any,
                window: Sequence[MonitoredItem], reference: ReferenceProfile, timestamp: datetime | None,
                tags: Sequence[str]) -> Any:
    """The Evidently snapshot of every test (what the dashboard shows)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, EmbeddingsDrift, MeanValue, RowCount, ValueDrift

    cur, ref = frames.cur, frames.ref
    numeric = list(DESCRIPTOR_COLUMNS)
    definition = DataDefinition(
        numerical_columns=numeric,
        categorical_columns=[GROUP_COLUMN] if GROUP_COLUMN in cur.columns else [],
        embeddings={EMBEDDING_NAME: emb_cols} if emb_cols else None,
    )
    metrics: list[Any] = [RowCount(tests=[])]
    metrics += [ValueDrift(column=n, method=t.method, threshold=t.threshold) for n, t in tested_numeric]
    metrics += [MeanValue(column=n, tests=[]) for n in numeric if cur[n].notna().any() and ref[n].notna().any()]
    if group_test is not None:
        metrics.append(ValueDrift(column=GROUP_COLUMN, method=group_test.method, threshold=group_test.threshold))
    # The share of drifted (non-embedding) features as one number for the dashboard: over every
    # enabled feature with values on both sides (constant ones included), so that its parameters
    # - and hence the dashboard's time series - stay the same from one check to the next.
    tested_cols = {n: cfg.features.get(n, FeatureTest()) for n in numeric
                   if cfg.features.get(n, FeatureTest()).enabled and cur[n].notna().any() and ref[n].notna().any()}
    if GROUP_COLUMN in cur.columns and cfg.groups.enabled:
        tested_cols[GROUP_COLUMN] = cfg.groups
    if tested_cols:
        metrics.append(DriftedColumnsCount(
            columns=list(tested_cols), drift_share=cfg.drift_share,
            per_column_method={n: t.method for n, t in tested_cols.items()},
            per_column_threshold={n: t.threshold for n, t in tested_cols.items()},
        ))
    if emb_cols:
        metrics.append(EmbeddingsDrift(embeddings_name=EMBEDDING_NAME, drift_method=emb_method))
    report = Report(metrics, include_tests=True)
    # numpy warns (0/0) on constant columns inside Evidently's tests; the verdict is still right.
    with _thread_limit(cfg.num_threads), np.errstate(invalid="ignore", divide="ignore"):
        return report.run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
            timestamp=timestamp or datetime.now(UTC).replace(tzinfo=None),
            tags=list(tags),
            metadata={"model_tag": str(_common_model_tag(window)), "encoder": str(reference.meta.get("encoder"))},
        )


def _embedding_evidence(frames: _DriftFrames, cfg: DriftConfig, emb_cols: list[str], emb_method: Any) -> FeatureEvidence:
    """The embedding test's verdict. Evidently's new API keeps only the score; the method itself
    gives the verdict (deterministic: fixed seeds inside), so it is called on copies."""
    emb_test = cfg.embeddings
    if not emb_cols:
        return FeatureEvidence(feature=EMBEDDING_NAME, kind="embedding", method=emb_test.method, skipped="disabled")
    with _thread_limit(cfg.num_threads):
        score, drifted, _ = emb_method(frames.cur[emb_cols].copy(), frames.ref[emb_cols].copy())
    bootstrap = "+bootstrap" if emb_test.bootstrap and emb_test.method != "mmd" else ""
    return FeatureEvidence(feature=EMBEDDING_NAME, kind="embedding", method=emb_test.method + bootstrap,
                           score=float(score), threshold=emb_method.threshold if not emb_test.bootstrap else None,
                           drifted=bool(drifted))


def _decision(evidence: list[FeatureEvidence], window: Sequence[MonitoredItem], reference: ReferenceProfile,
              cfg: DriftConfig) -> DriftResult:
    """Drift when the share of drifted tested features reaches ``cfg.drift_share``."""
    tested = [e for e in evidence if e.skipped is None]
    share = sum(e.drifted for e in tested) / len(tested) if tested else 0.0
    notes = []
    served, ref_tag = _common_model_tag(window), reference.meta.get("model_tag")
    if served and ref_tag and served != ref_tag:
        notes.append(f"window served by {served} but the reference holds predictions of {ref_tag}: "
                     "prediction drift may reflect the model change; rebuild the reference")
    return DriftResult(
        drift_detected=bool(tested) and share >= cfg.drift_share, share_drifted=share, drift_share=cfg.drift_share,
        n_current=len(window), n_reference=len(reference.descriptors), features=evidence,
        reasons=[_reason(e) for e in tested if e.drifted], notes=notes, reference=reference.meta,
    )


def _label_snapshot(snapshot: Any, res: DriftResult) -> None:
    """Tag the snapshot with the decision so the UI's report list shows it.

    The decision needs the report's results, so it cannot be passed to ``Report.run``; Evidently
    0.7 offers no public setter, hence the private attributes (checked, so a rename is harmless).
    """
    decision = "drift" if res.drift_detected else "no-drift"
    tags, metadata = getattr(snapshot, "_tags", None), getattr(snapshot, "_metadata", None)
    if isinstance(tags, list):
        tags.append(decision)
    if isinstance(metadata, dict):
        metadata["decision"] = decision
        metadata["drifted_features"] = ",".join(res.drifted_features)


@contextmanager
def _thread_limit(n: int | None) -> Iterator[None]:
    """Limit BLAS/OpenMP threads (sklearn, numpy) inside the block when ``n`` is set."""
    if not n:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


def _common_model_tag(window: Sequence[MonitoredItem]) -> str | None:
    tags = Counter(it.model_tag for it in window if it.model_tag)
    return tags.most_common(1)[0][0] if tags else None


def _reason(e: FeatureEvidence) -> str:
    move = ""
    if e.reference_value is not None and e.current_value is not None:
        move = f" (reference {e.reference_value:.3g} -> current {e.current_value:.3g})"
    score = "n/a" if e.score is None or math.isnan(e.score) else f"{e.score:.3g}"
    thr = "bootstrap" if e.threshold is None else f"{e.threshold:g}"
    return f"{e.feature}: {e.method} score {score} vs threshold {thr}{move}"


def _value_drift_results(snapshot: Any) -> tuple[dict[str, float], dict[str, bool]]:
    """Scores and Evidently's own test verdicts (FAIL = drift) of the ValueDrift metrics."""
    data = snapshot.dict()
    scores: dict[str, float] = {}
    for m in data["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type") == "evidently:metric_v2:ValueDrift" and isinstance(m.get("value"), (int, float)):
            scores[cfg["column"]] = float(m["value"])
    verdicts: dict[str, bool] = {}
    for t in data.get("tests", []):
        params = t.get("metric_config", {}).get("params", {})
        if params.get("type") == "evidently:metric_v2:ValueDrift" and "column" in params:
            verdicts[params["column"]] = t.get("status") == "FAIL"
    return scores, verdicts
