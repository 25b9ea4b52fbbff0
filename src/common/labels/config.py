"""How crowd labels are merged: the span and group methods and their thresholds (YAML-loadable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.core.config import StrictModel


class MergeConfig(StrictModel):
    """How crowd labels are merged (YAML-loadable as the ``merge`` stage config)."""

    span_method: Literal["weighted", "majority", "token_majority"] = "weighted"
    group_method: Literal["one_coin", "dawid_skene", "majority"] = "one_coin"
    rounds: int = Field(4, ge=1, description="Outer rounds: boundary choice <-> Dawid-Skene presence.")
    ds_iters: int = Field(100, ge=1, description="EM iterations of crowd-kit's Dawid-Skene per round.")
    threshold: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="Posterior above which a span region is kept (F1 is maximised near F1*/2, not at 0.5).",
    )
    prior_strength: float = Field(2.0, ge=0, description="Beta prior (pseudo-counts) on boundary accuracy.")
    min_youden: float = Field(
        0.05,
        description="Annotators whose Dawid-Skene sensitivity + specificity - 1 is at most this are spammers.",
    )
    feedback_weight: float = Field(
        1.0, ge=0, le=1, description="Confidence given to spans from documents labelled by one person only."
    )
