"""The reference profile: what the training data looked like to the model (texts, cross-fitted
descriptors, predictions, embeddings, vocabulary), built once from SkillSpan train and stored as
files, so a check only embeds the window."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.monitoring.config import GROUP_COLUMN, PROFILE_VERSION, DriftConfig
from common.monitoring.descriptors import (
    DESCRIPTOR_COLUMNS,
    MonitoredItem,
    Vocabulary,
    cross_fitted_descriptors,
)
from common.monitoring.embedder import Embedder, TextEmbedder, embed


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
        embeddings=embed(embedder, [it.text for it in items]),
        vocab=vocab,
        groups=[dominant_group(it.groups) for it in items] if has_groups else None,
        meta={
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "encoder": encoder,
            "n_folds": cfg.n_folds,
            **(meta or {}),
        },
    )
