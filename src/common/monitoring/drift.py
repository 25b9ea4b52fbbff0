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

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from common.core.config import StageConfig, StrictModel, encoder_or_default
from common.monitoring.descriptors import (
    DESCRIPTOR_COLUMNS,
    MonitoredItem,
    Vocabulary,
    cross_fitted_descriptors,
    describe_all,
)

GROUP_COLUMN = "top_group"
EMBEDDING_NAME = "text_embedding"
PROFILE_VERSION = 1


# --------------------------------------------------------------------------------------- config
class FeatureTest(StrictModel):
    """How one feature is tested: an Evidently stat-test name and its threshold.

    For p-value tests (``ks``, ``chisquare``, ``mannw``...) drift means score < threshold; for
    distances (``wasserstein``, ``jensenshannon``, ``psi``...) score >= threshold — Evidently
    decides which, and the evidence records its verdict.
    """

    method: str = "ks"
    threshold: float = 0.05
    enabled: bool = True


class EmbeddingTest(StrictModel):
    """Embedding drift method (Evidently's ``model``/``distance``/``mmd``/``ratio``).

    ``model`` trains a domain classifier reference-vs-current and reports its ROC AUC; with
    ``bootstrap`` the AUC is compared with the 95th percentile of a random classifier's AUC on
    the same split, which keeps small windows from false alarms (a fixed 0.55 flags about one
    in five random halves of the training data at 50 postings).
    """

    method: Literal["model", "distance", "mmd", "ratio"] = "model"
    threshold: float | None = Field(None, description="None: Evidently's default for the method.")
    bootstrap: bool = True
    quantile_probability: float = 0.95
    pca_components: int | None = None
    enabled: bool = True

    def evidently_method(self) -> Any:
        from evidently.metrics.embeddings import (
            DistanceDriftMethod,
            MMDDriftMethod,
            ModelDriftMethod,
            RatioDriftMethod,
        )

        kwargs: dict[str, Any] = {"pca_components": self.pca_components}
        if self.threshold is not None:
            kwargs["threshold"] = self.threshold
        if self.method == "model":
            return ModelDriftMethod(bootstrap=self.bootstrap, quantile_probability=self.quantile_probability, **kwargs)
        if self.method == "distance":
            return DistanceDriftMethod(
                dist="cosine", bootstrap=self.bootstrap, quantile_probability=self.quantile_probability, **kwargs
            )
        if self.method == "mmd":
            # Evidently's MMD bootstrap compares with the 5th percentile of the null: use the
            # fixed threshold only.
            return MMDDriftMethod(bootstrap=False, **kwargs)
        return RatioDriftMethod(**kwargs)


def _default_features() -> dict[str, FeatureTest]:
    return {name: FeatureTest() for name in DESCRIPTOR_COLUMNS}


class DriftConfig(StageConfig):
    """Thresholds and knobs of the drift check (YAML: ``configs/drift.yaml``)."""

    encoder: str | None = Field(None, description="HF model folder; None: settings.encoder_path.")
    device: str | None = None
    max_seq_length: int = 128
    max_lines_per_text: int = Field(64, description="Lines embedded per posting (longer ones truncated).")
    embed_batch_size: int = 64
    num_threads: int | None = Field(
        None, description="CPU threads for embedding (torch) and the report (BLAS/OpenMP, e.g. the "
        "t-SNE plot of the embeddings); None: library defaults. 1 avoids oversubscription on a "
        "busy machine, where 2 threads ran 5-20x slower than 1 here.")
    features: dict[str, FeatureTest] = Field(default_factory=_default_features)
    groups: FeatureTest = Field(default_factory=lambda: FeatureTest(method="jensenshannon", threshold=0.1))
    group_level: Literal[1, 2] = Field(2, description="ESCO level compared (the /analyze default is 2).")
    embeddings: EmbeddingTest = Field(default_factory=EmbeddingTest)
    drift_share: float = Field(0.5, gt=0, le=1, description="Share of drifted features that means drift.")
    min_window: int = Field(20, ge=2, description="Fewer postings than this: no decision.")
    window_hours: float = Field(24 * 7, description="How far back the monitor reads the request logs.")
    endpoints: list[Literal["extract", "extract_batch", "analyze"]] = Field(
        default_factory=lambda: ["extract", "extract_batch", "analyze"],
        description="Request-log endpoints whose inputs are postings.",
    )
    n_folds: int = Field(10, ge=2, description="Folds for the cross-fitted reference descriptors.")
    project_name: str = "jobskills drift"
    save_html: bool = True

    def encoder_path(self) -> str:
        return encoder_or_default(self.encoder)


# ------------------------------------------------------------------------------------ embeddings
class TextEmbedder:
    """Posting embeddings: the mean of the (normalised) embeddings of its first lines.

    Whole postings are far longer than the encoder's window, so embedding only the first 128
    tokens would ignore most of the text; averaging line embeddings covers it.
    """

    def __init__(self, encoder: str, device: str | None = None, max_seq_length: int = 128,
                 max_lines: int = 64, batch_size: int = 64, num_threads: int | None = None) -> None:
        self.encoder = encoder
        self.device = device
        self.max_seq_length = max_seq_length
        self.max_lines = max_lines
        self.batch_size = batch_size
        self.num_threads = num_threads
        self._model: Any = None

    @classmethod
    def from_config(cls, cfg: DriftConfig) -> TextEmbedder:
        return cls(cfg.encoder_path(), cfg.device, cfg.max_seq_length, cfg.max_lines_per_text,
                   cfg.embed_batch_size, cfg.num_threads)

    def _load(self) -> Any:
        if self._model is None:
            from common.text.embeddings import Encoder

            self._model = Encoder(self.encoder, self.device, max_length=self.max_seq_length,
                                  batch_size=self.batch_size, num_threads=self.num_threads)
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        lines: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            parts = [ln.strip() for ln in text.splitlines() if ln.strip()][: self.max_lines] or [text.strip() or "."]
            lines.extend(parts)
            owner.extend([i] * len(parts))
        emb = self._load().encode(lines, progress=progress)
        owner_arr = np.asarray(owner)
        out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        for i in range(len(texts)):
            out[i] = emb[owner_arr == i].mean(axis=0)
        return out


Embedder = Callable[[Sequence[str]], np.ndarray]


def _embed(embedder: TextEmbedder | Embedder, texts: Sequence[str]) -> np.ndarray:
    fn = embedder.encode if isinstance(embedder, TextEmbedder) else embedder
    return np.asarray(fn(list(texts)), dtype=np.float32)


# ----------------------------------------------------------------------------- reference profile
def dominant_group(groups: Sequence[str] | None) -> str | None:
    """Most frequent group among a posting's keywords (ties: alphabetical), None if none."""
    if not groups:
        return None
    counts = Counter(groups)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


@dataclass
class ReferenceProfile:
    """What training data looks like to the monitor; stored as a folder of plain files."""

    descriptors: pd.DataFrame
    embeddings: np.ndarray
    vocab: Vocabulary
    groups: list[str | None] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        frame = self.descriptors.copy()
        if self.groups is not None:
            frame[GROUP_COLUMN] = self.groups
        frame.to_parquet(d / "descriptors.parquet", index=False)
        np.save(d / "embeddings.npy", self.embeddings)
        (d / "vocabulary.json").write_text(
            json.dumps({"words": sorted(self.vocab.words), "skills": sorted(self.vocab.skills)}), encoding="utf-8"
        )
        meta = {**self.meta, "version": PROFILE_VERSION, "n_items": len(frame), "has_groups": self.groups is not None}
        (d / "profile.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ReferenceProfile:
        d = Path(directory)
        if not (d / "profile.json").exists():
            raise FileNotFoundError(
                f"no drift reference profile in {d}; build it with `jobskills monitor --build-reference`"
            )
        meta = json.loads((d / "profile.json").read_text(encoding="utf-8"))
        frame = pd.read_parquet(d / "descriptors.parquet")
        groups = None
        if GROUP_COLUMN in frame.columns:
            groups = [g if isinstance(g, str) else None for g in frame.pop(GROUP_COLUMN)]
        voc = json.loads((d / "vocabulary.json").read_text(encoding="utf-8"))
        return cls(
            descriptors=frame,
            embeddings=np.load(d / "embeddings.npy"),
            vocab=Vocabulary(words=set(voc["words"]), skills=set(voc["skills"])),
            groups=groups if meta.get("has_groups") else None,
            meta=meta,
        )


def build_reference(
    items: Sequence[MonitoredItem],
    training_skills: Sequence[Sequence[str]],
    cfg: DriftConfig,
    embedder: TextEmbedder | Embedder | None = None,
    meta: dict[str, Any] | None = None,
) -> ReferenceProfile:
    """Profile of the training postings: ``items`` carry the model's predictions on them.

    ``training_skills[i]`` are the *labelled* keywords of item ``i``: the known-skill set is
    what the model was trained on, whatever it predicts.
    """
    if len(items) != len(training_skills):
        raise ValueError("items and training_skills must have the same length")
    embedder = embedder or TextEmbedder.from_config(cfg)
    rows = cross_fitted_descriptors(items, training_skills, n_folds=cfg.n_folds)
    vocab = Vocabulary.from_training((it.text for it in items), (s for sk in training_skills for s in sk))
    has_groups = any(it.groups is not None for it in items)
    # A plain callable embedder (tests, custom encoders) is recorded under the configured name.
    encoder = embedder.encoder if isinstance(embedder, TextEmbedder) else (meta or {}).get("encoder",
                                                                                         cfg.encoder_path())
    return ReferenceProfile(
        descriptors=pd.DataFrame(rows, columns=list(DESCRIPTOR_COLUMNS)),
        embeddings=_embed(embedder, [it.text for it in items]),
        vocab=vocab,
        groups=[dominant_group(it.groups) for it in items] if has_groups else None,
        meta={
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "encoder": encoder,
            "n_folds": cfg.n_folds,
            **(meta or {}),
        },
    )


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
    cur_emb = _embed(embedder, [it.text for it in window])
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
