"""Typed configuration of the model half of the pipeline (merge -> train -> evaluate -> promote).

One YAML file (``configs/pipeline.yaml``; ``configs/quickstart.yaml`` for the tiny budget)
holds a section per stage; each section is the stage's own pydantic config, so a file that
names an unknown field fails early with the field's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from common.crowd import MergeConfig
from common.groups import GroupConfig
from common.registry import GateConfig
from common.tagger import TaggerConfig

ModelKind = Literal["keywords", "groups"]


class PipelineConfig(BaseModel):
    """Stages of the retrain flow after ingest/validate."""

    models: list[ModelKind] = Field(default_factory=lambda: ["keywords", "groups"])
    merge: MergeConfig = Field(default_factory=MergeConfig)
    keywords: TaggerConfig = Field(default_factory=TaggerConfig)
    groups: GroupConfig = Field(default_factory=GroupConfig)
    keyword_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    group_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    baselines: list[Literal["tfidf", "yake", "keybert"]] = Field(
        default_factory=lambda: ["tfidf", "yake"],
        description="Unsupervised keyword baselines scored next to the candidate (report only, no gate).",
    )
    crowd_groups: Literal["union", "ignore"] = Field(
        "union", description="Add merged crowd group labels to the ESCO training skills (union) or not."
    )

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> PipelineConfig:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a YAML mapping with sections merge/keywords/groups/...")
        for k, v in overrides.items():
            if v is not None:
                data[k] = v
        return cls.model_validate(data)

    def with_encoder(self, encoder: str | None) -> PipelineConfig:
        """The same config with both models on another encoder folder (tests use a tiny BERT)."""
        if not encoder:
            return self
        return self.model_copy(
            update={
                "keywords": self.keywords.model_copy(update={"encoder": encoder}),
                "groups": self.groups.model_copy(update={"encoder": encoder}),
            }
        )


def quickstart_config_path() -> Path:
    """``configs/quickstart.yaml`` in a checkout, else the copy shipped with the package."""
    repo = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    return repo if repo.exists() else Path(__file__).resolve().parent / "sample" / "quickstart.yaml"
