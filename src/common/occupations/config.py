"""The occupation model's build settings (``configs/occupations.yaml``)."""

from __future__ import annotations

from pydantic import Field

from common.core.config import StageConfig, StrictModel


class ImportanceParams(StrictModel):
    """XGBoost for the core/fringe classifier (essential vs optional per occupation and skill)."""

    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    max_depth: int = Field(5, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    neighbours: int = Field(10, ge=1, description="Nearest training occupations whose essential skills vote.")


class OccupationConfig(StageConfig):
    """An occupation model build: the title index, the fitted ranking weights, the core/fringe classifier."""

    name: str = "esco-occupations"
    encoder: str | None = Field(None, description="HF encoder folder; default settings.encoder_path (MiniLM).")
    top_k: int = Field(3, ge=1, le=50, description="Occupations returned by default.")
    negatives: int = Field(30, ge=1, description="Hard negatives per training posting when the weights are fitted.")
    importance: ImportanceParams = Field(default_factory=ImportanceParams)
    max_train_occupations: int | None = Field(None, ge=10, description="Fit on a sample (quick builds, tests).")
    max_length: int = Field(32, ge=8, description="Sub-words per title or skill name.")
    text_max_length: int = Field(96, ge=8, description="Sub-words per occupation text (label + description).")
    seed: int = 13
    threads: int | None = Field(None, ge=1)
    device: str | None = None
