"""The two keyword tiers: where each one's champion lives and which tier answers by default.

``accurate`` (all-mpnet-base-v2, 109M parameters) scores about 10 points of span-F1 above ``fast``
(MiniLM-L6, 22.7M) and costs about 5x the compute, so it serves by default once it has a champion,
and ``fast`` is the choice for a small CPU or a large batch. Each tier is its own registry name with
its own gate and floor, so promoting one never replaces the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.keywords.config import Tier

TIERS: tuple[Tier, ...] = ("accurate", "fast")
TierRequest = Literal["auto", "accurate", "fast"]


def tier_model_name(tier: Tier) -> str:
    """The registry name holding ``tier``'s champion (settings ``keyword_[accurate_]model_name``)."""
    from common.core.settings import get_settings

    s = get_settings()
    if tier not in TIERS:
        raise ValueError(f"unknown keyword tier {tier!r}; use accurate or fast")
    return s.keyword_accurate_model_name if tier == "accurate" else s.keyword_model_name


def tier_floor(tier: Tier) -> float:
    """The dev span-F1 under which ``tier``'s champion is flagged as low quality."""
    from common.core.settings import get_settings

    s = get_settings()
    return s.keyword_accurate_score_floor if tier == "accurate" else s.keyword_score_floor


@dataclass(frozen=True)
class TierChoice:
    """The tier that serves and the sentence that says why (logged once, shown on ``/status``)."""

    tier: Tier
    reason: str


def choose_tier(requested: TierRequest, accurate_champion: str | None) -> TierChoice:
    """``auto`` serves the accurate tier when it has a champion (``accurate_champion``, its tag),
    else the fast tier; an explicit request is served as asked."""
    if requested == "accurate":
        return TierChoice("accurate", "requested (JOBSKILLS_SERVE_KEYWORD_TIER=accurate or --tier accurate)")
    if requested == "fast":
        return TierChoice("fast", "requested (JOBSKILLS_SERVE_KEYWORD_TIER=fast or --tier fast)")
    if requested != "auto":
        raise ValueError(f"unknown keyword tier {requested!r}; use auto, accurate or fast")
    if accurate_champion:
        return TierChoice("accurate", f"the accurate tier has a champion ({accurate_champion})")
    return TierChoice("fast", f"no accurate-tier champion ({tier_model_name('accurate')!r}) in the registry; "
                              "`jobskills encoders install mpnet` and the pipeline train one")


def tier_latest_dir(tier: Tier) -> Path:
    """``<data_dir>/models/<tier's registry name>/latest``: the tier's last trained model."""
    from common.core.artifacts import latest_dir

    return latest_dir(tier_model_name(tier))


def recorded_tier(model_dir: str | Path | None) -> Tier:
    """The tier a tagger folder's ``tagger.json`` records, without loading the model; ``fast``
    when it records none or the folder cannot be read (what a model trained before tiers was)."""
    import json

    try:
        tier = json.loads((Path(model_dir) / "tagger.json").read_text(encoding="utf-8")).get("tier")  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return "fast"
    return tier if tier in TIERS else "fast"


def _has_model(tier: Tier) -> bool:
    from common import registry

    try:
        if registry.champion(tier_model_name(tier)) is not None:
            return True
    except Exception:  # noqa: BLE001  (a broken or empty store: fall back to the latest folder)
        pass
    return (tier_latest_dir(tier) / "tagger.json").exists()


def resolve_tier(requested: TierRequest) -> Tier:
    """The tier a command uses when asked for ``requested``: ``auto`` is the accurate tier when it
    has a champion or a trained model here, else the fast tier."""
    if requested != "auto":
        return choose_tier(requested, None).tier
    return "accurate" if _has_model("accurate") else "fast"
