"""One monitoring check end to end, as plain functions the flow and the CLI both call.

``ensure_reference`` builds (or reuses) the stored reference profile from SkillSpan train with
the serving champion's predictions; ``run_check`` compares a window with it and keeps the
evidence: ``decision.json`` and an Evidently HTML page under ``reports_dir/drift/<stamp>/``, and
a snapshot in the Evidently workspace for the dashboard. Deciding *what to do* about drift
(start the retrain flow) is the flow's job, so this module never imports Prefect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.monitoring.descriptors import MonitoredItem
from common.monitoring.config import DriftConfig
from common.monitoring.drift import DriftResult, check_drift
from common.monitoring.reference import ReferenceProfile, build_reference
from common.monitoring.embedder import TextEmbedder
from common.monitoring.window import skillspan_items, training_skills

logger = logging.getLogger(__name__)


def reference_dir(data_dir: Path) -> Path:
    """Where the reference profile lives inside the platform's data folder."""
    return Path(data_dir) / "monitoring" / "reference"


def drift_reports_dir(reports_dir: Path) -> Path:
    return Path(reports_dir) / "drift"


def champion_tagger() -> tuple[Callable[[list[str]], list[list[Any]]] | None, str | None]:
    """``(extract, tag)`` of the registry's keyword champion, ``(None, None)`` when there is none.

    Reference predictions must come from the model that serves, otherwise prediction drift
    measures the difference between two models instead of between two data sets.
    """
    from common import registry
    from common.core.settings import get_settings
    from common.keywords.tagger import KeywordTagger

    name = get_settings().keyword_model_name
    info = registry.champion(name)
    if info is None:
        return None, None
    tagger = KeywordTagger.load(registry.champion_path(name))
    return tagger.extract, str(info.tag)


def champion_group_of(level: int) -> tuple[Callable[[list[str]], list[str | None]] | None, str | None]:
    """``(group_of, tag)``: the group champion's best code per skill, ``(None, None)`` without one."""
    from common import registry
    from common.core.settings import get_settings
    from common.groups.model import GroupModel

    name = get_settings().group_model_name
    info = registry.champion(name)
    if info is None:
        return None, None
    model = GroupModel.load(registry.champion_path(name))

    def group_of(skills: list[str]) -> list[str | None]:
        return [g[0].code if g else None for g in model.predict(list(skills), level=level, top_k=1)]

    return group_of, str(info.tag)


def build_skillspan_reference(
    cfg: DriftConfig,
    out_dir: Path,
    data_dir: Path | None = None,
    sources: Sequence[str] | None = None,
    predict: Callable[[list[str]], list[list[Any]]] | None = None,
    model_tag: str | None = None,
    embedder: TextEmbedder | None = None,
    group_of: Callable[[list[str]], list[str | None]] | None = None,
    group_model_tag: str | None = None,
) -> ReferenceProfile:
    """Reference profile from SkillSpan train (optionally only some sources), saved to ``out_dir``.

    Predictions come from ``predict`` (the champion tagger) or, without one, from the gold
    labels; the profile records which in ``meta["predictions"]``.
    """
    from common.data.skillspan import load_skillspan

    postings = load_skillspan("train", data_dir)
    if sources:
        postings = [p for p in postings if p.source in set(sources)]
    if len(postings) < 2:
        raise ValueError(f"SkillSpan train has fewer than 2 postings for sources {list(sources or [])}")
    items = skillspan_items(postings, predict=predict, group_of=group_of)
    profile = build_reference(
        items, training_skills(postings), cfg, embedder=embedder,
        meta={"data": "skillspan/train", "sources": sorted({p.source for p in postings}),
              "predictions": model_tag or ("model" if predict else "gold"), "model_tag": model_tag,
              "group_model_tag": group_model_tag, "group_level": cfg.group_level if group_of else None},
    )
    profile.save(out_dir)
    return profile


def ensure_reference(
    cfg: DriftConfig,
    ref_dir: Path,
    data_dir: Path | None = None,
    rebuild: bool = False,
    use_champion: bool = True,
    embedder: TextEmbedder | None = None,
) -> ReferenceProfile:
    """The stored profile, rebuilt when missing, asked for, or made with another champion/encoder."""
    predict, tag = champion_tagger() if use_champion else (None, None)
    group_of, group_tag = champion_group_of(cfg.group_level) if use_champion else (None, None)
    encoder = embedder.encoder if isinstance(embedder, TextEmbedder) else cfg.encoder_path()
    if not rebuild and (Path(ref_dir) / "profile.json").exists():
        profile = ReferenceProfile.load(ref_dir)
        same = (profile.meta.get("model_tag") == tag and profile.meta.get("group_model_tag") == group_tag
                and profile.meta.get("encoder") == encoder
                and profile.meta.get("group_level") in (None, cfg.group_level))
        if same:
            return profile
        logger.info("rebuilding the drift reference (champions %s / %s, encoder %s)", tag, group_tag, encoder)
    return build_skillspan_reference(cfg, Path(ref_dir), data_dir, predict=predict, model_tag=tag, embedder=embedder,
                                     group_of=group_of, group_model_tag=group_tag)


def run_check(
    window: Sequence[MonitoredItem],
    reference: ReferenceProfile,
    cfg: DriftConfig,
    reports_dir: Path,
    workspace_dir: Path | None,
    embedder: TextEmbedder | None = None,
    timestamp: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[DriftResult, Path]:
    """Check ``window``; write ``decision.json`` (+ HTML) and add the snapshot to the workspace.

    Returns the result and the folder holding this check's files.
    """
    stamp = (timestamp or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    out_dir = drift_reports_dir(reports_dir) / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome = check_drift(window, reference, cfg, embedder=embedder,
                          timestamp=(timestamp or datetime.now(UTC)).replace(tzinfo=None))
    result = outcome.result
    record: dict[str, Any] = {"result": result.model_dump(), "summary": result.summary(), **(extra or {})}
    if outcome.snapshot is not None:
        if cfg.save_html:
            outcome.snapshot.save_html(str(out_dir / "report.html"))
            record["html"] = str(out_dir / "report.html")
        if workspace_dir is not None:
            from common.monitoring.workspace import add_snapshot

            project_id, snapshot_id = add_snapshot(workspace_dir, cfg.project_name, outcome.snapshot,
                                                   name=f"drift check {stamp}")
            record["workspace"] = {"path": str(workspace_dir), "project_id": project_id, "snapshot_id": snapshot_id}
    write_decision(out_dir, record)
    return result, out_dir


def write_decision(out_dir: Path, record: dict[str, Any]) -> Path:
    """(Re)write ``decision.json`` atomically, so a reader never sees half a file."""
    path = Path(out_dir) / "decision.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def read_decision(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / "decision.json").read_text(encoding="utf-8"))
