"""What the drift check tests: per-feature Evidently tests and thresholds, the embedding test, the
share of drifted features that means drift (YAML-loadable, ``configs/drift.yaml``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.core.config import StageConfig, StrictModel, encoder_or_default
from common.monitoring.descriptors import (
    DESCRIPTOR_COLUMNS,
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
