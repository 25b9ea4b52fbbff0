"""Typed results passed between the pipeline's stages (train -> evaluate -> promote).

Stage results used to be nested dicts (``trained["keywords"]["metrics"]``): a misspelt key
was a ``KeyError`` two flows later. They are pydantic models, so Prefect validates them at
every flow boundary and ``model_dump(mode="json")`` is the JSON kept next to the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class TrainedModel(BaseModel):
    """One candidate a training stage produced."""

    kind: str = Field(description="A key of common.pipeline.kinds.KINDS.")
    model_dir: str
    metrics: dict[str, Any]
    seconds: float
    data_version: str
    params: dict[str, Any] = Field(default_factory=dict, description="The stage config, as trained with.")
    counts: dict[str, int] = Field(default_factory=dict, description="Training and dev items seen.")

    def save(self) -> Path:
        """Write ``train_result.json`` into the model folder (lineage for people and tools)."""
        path = Path(self.model_dir) / "train_result.json"
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2, default=str), encoding="utf-8")
        return path


class TrainedRun(BaseModel):
    """What one training run produced: a candidate per model kind, on one data version."""

    data_version: str
    models: dict[str, TrainedModel] = Field(default_factory=dict)
