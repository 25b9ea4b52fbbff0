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


class TitleConfig(StrictModel):
    """The title encoder and the title index, from real job titles (``occupations.titles``).

    Why: real titles ("Route Servicer cum Technician") are not ESCO names; a plain MiniLM cosine
    ranks the right occupation first for a quarter of them. A contrastive pass over (real title,
    ESCO preferred label) and (ESCO alternative label, preferred label) pairs teaches the encoder
    that these name one job, and the training titles join the index as extra names."""

    enabled: bool = Field(True, description="Use the real titles when the file exists (else ESCO names alone).")
    path: str | None = Field(None, description="text,label CSV; default settings.job_titles_path.")
    epochs: float = Field(1.0, ge=0, description="Contrastive passes over the pairs; 0 keeps the base encoder.")
    batch_size: int = Field(64, ge=2)
    lr: float = Field(5e-5, gt=0)
    temperature: float = Field(0.05, gt=0)
    max_length: int = Field(24, ge=4, description="Sub-words per title while training.")
    max_steps: int | None = Field(None, ge=1, description="Stop early (quick builds, tests).")
    index: bool = Field(True, description="Add the training titles to the title index as names of their occupation.")
    votes_k: int = Field(30, ge=1, description="Nearest training titles that vote for their occupation "
                         "(chosen on calib titles: 30-60 within the interval of each other).")
    votes_temperature: float = Field(0.1, gt=0, description="Vote weight exp((cos - 1) / this).")
    min_pairs: int = Field(50, ge=1, description="Fewer training pairs than this: keep the base encoder.")
    title_only_below: int = Field(3, ge=1, description="A posting with a title and fewer known skills than this is "
                                  "ranked by the title-only weights (fitted on real titles).")


class OccupationConfig(StageConfig):
    """An occupation model build: the title index, the fitted ranking weights, the core/fringe classifier."""

    name: str = "esco-occupations"
    encoder: str | None = Field(None, description="HF encoder folder; default settings.encoder_path (MiniLM).")
    top_k: int = Field(3, ge=1, le=50, description="Occupations returned by default.")
    negatives: int = Field(30, ge=1, description="Hard negatives per training posting when the weights are fitted.")
    importance: ImportanceParams = Field(default_factory=ImportanceParams)
    titles: TitleConfig = Field(default_factory=TitleConfig)
    max_train_occupations: int | None = Field(None, ge=10, description="Fit on a sample (quick builds, tests).")
    max_length: int = Field(32, ge=8, description="Sub-words per title or skill name.")
    text_max_length: int = Field(96, ge=8, description="Sub-words per occupation text (label + description).")
    seed: int = 13
    threads: int | None = Field(None, ge=1)
    device: str | None = None
