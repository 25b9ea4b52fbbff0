"""Typed configuration of the model half of the pipeline (merge -> train -> evaluate -> promote).

One YAML file (``configs/pipeline.yaml``; ``configs/quickstart.yaml`` for the tiny budget)
holds a section per stage; each section is the stage's own strict pydantic config, so a file
that names an unknown field fails before anything runs, with the file, the field and the closest
valid name.

One rule for defaults: a stage's documented default is its config class's code default, and
``configs/<stage>.yaml`` states those values (a test keeps them equal). A pipeline section holds
only what differs, so an empty ``keywords: {}`` trains exactly the model ``docs/keywords.md``
describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from common.core.config import StageConfig
from common.labels.config import MergeConfig
from common.groups.config import GroupConfig
from common.registry import GateConfig
from common.keywords.config import TaggerConfig, accurate_tagger_config
from common.linking.linker import LinkerConfig
from common.occupations.config import OccupationConfig

ModelKind = Literal["keywords", "keywords_accurate", "groups", "linker", "occupations"]


class PipelineConfig(StageConfig):
    """Stages of the retrain flow after ingest/validate."""

    models: list[ModelKind] = Field(default_factory=lambda: ["keywords", "groups"])
    merge: MergeConfig = Field(default_factory=MergeConfig)
    keywords: TaggerConfig = Field(default_factory=TaggerConfig)
    keywords_accurate: TaggerConfig = Field(
        default_factory=accurate_tagger_config,
        description="The accurate tier (configs/tagger-mpnet.yaml); a section holds only what differs from it.")
    distill_fast: bool = Field(
        True, description="Train the fast tier as a student of the accurate tier's champion (when there is one): "
        "its labels of SkillSpan train and of the unlabelled job text (labelled once, cached, resumable).")
    distill_fraction: float = Field(1.0, ge=0, le=1, description="Share of the unlabelled passages the student sees.")
    groups: GroupConfig = Field(default_factory=GroupConfig)
    linker: LinkerConfig = Field(default_factory=LinkerConfig)
    occupations: OccupationConfig = Field(default_factory=OccupationConfig)
    keyword_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    keyword_accurate_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    group_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    linker_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    occupation_gate: GateConfig = Field(default_factory=lambda: GateConfig(margin=0.005))
    baselines: list[Literal["tfidf", "yake", "keybert"]] = Field(
        default_factory=lambda: ["tfidf", "yake"],
        description="Unsupervised keyword baselines scored next to the candidate (report only, no gate).",
    )
    crowd_groups: Literal["union", "ignore"] = Field(
        "union", description="Add merged crowd group labels to the ESCO training skills (union) or not."
    )

    @field_validator("keywords_accurate", mode="before")
    @classmethod
    def _accurate_defaults(cls, value: object) -> object:
        """A YAML section of the accurate tier overrides the accurate recipe, not MiniLM's defaults."""
        return accurate_tagger_config(**value) if isinstance(value, dict) else value

    def with_encoder(self, encoder: str | None) -> PipelineConfig:
        """The same config with every model on another encoder folder (tests use a tiny BERT)."""
        if not encoder:
            return self
        return self.model_copy(
            update={
                "keywords": self.keywords.model_copy(update={"encoder": encoder}),
                "keywords_accurate": self.keywords_accurate.model_copy(update={"encoder": encoder}),
                "groups": self.groups.model_copy(update={"encoder": encoder}),
                "linker": self.linker.model_copy(update={"encoder": encoder}),
                "occupations": self.occupations.model_copy(update={"encoder": encoder}),
            }
        )


def quickstart_config_path() -> Path:
    """``configs/quickstart.yaml``; the package ships it as ``sample_data/quickstart.yaml`` (a link
    to that file in a checkout, a copy in a wheel), so there is one file to keep."""
    from common.data.sample import SAMPLE_DIR

    return SAMPLE_DIR / "quickstart.yaml"
