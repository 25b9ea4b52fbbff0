"""The occupation model as served: rank occupations for a posting, mark each skill's importance.

A folder holds ``occupations.json`` (config, fitted weights, calibrations, figures, encoder: the
folder ``title_encoder/`` when the model trained its own on real titles), ``vectors.npz``
(occupation names, occupation texts, skill names; float16), ``occupations.parquet``,
``relations.parquet``, ``skills.parquet`` (URI, label, alternative labels: the exact-name
lookup for keywords without a linker link) and the core/fringe classifier (``importance.*``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from common.core.config import encoder_or_default
from common.linking.taxonomy import Taxonomy
from common.occupations.config import OccupationConfig
from common.occupations.evaluate import resolve_names
from common.occupations.importance import ImportanceModel, build_context, pair_features
from common.occupations.ranker import OccupationMatch, OccupationRanker, title_of
from common.occupations.taxonomy import OccupationTaxonomy
from common.occupations.titles import TITLE_ENCODER_DIR

MODEL_FILE = "occupations.json"
FORMAT = 1


def skill_names(skills: Taxonomy) -> pd.DataFrame:
    """The part of the skill taxonomy the model keeps: URI, label, alternative labels, reuse level."""
    cols = [c for c in ("uri", "label", "alt_labels", "reuse_level") if c in skills.skills.columns]
    return skills.skills[cols].reset_index(drop=True)


class RoleSkill(BaseModel):
    uri: str
    label: str
    importance: str = Field(description="essential or optional, by the core/fringe classifier.")
    probability: float = Field(description="The classifier's probability that the skill is essential.")


@dataclass
class OccupationResult:
    """One posting: the title used (or None), the ranked occupations, and per skill URI its
    importance for the top occupation (``essential`` / ``optional`` / ``other``)."""

    title: str | None
    occupations: list[OccupationMatch]
    importance: dict[str, str]


class OccupationModel:
    def __init__(self, ranker: OccupationRanker, skills: pd.DataFrame, importance: ImportanceModel | None,
                 vectors: dict[str, np.ndarray], metrics: dict[str, Any] | None = None, own_encoder: bool = False) -> None:
        self.ranker = ranker
        self.own_encoder = own_encoder  # the ranker's encoder is the model's title encoder, saved with it
        self.skills = skills
        self.importance_model = importance
        self.vectors = vectors
        self.metrics = metrics or {}
        self.labels = dict(zip(skills["uri"], skills["label"], strict=True))
        self._index: dict[str, list[str]] | None = None
        self._ctx: Any = None  # the classifier's context, built on first use

    @property
    def cfg(self) -> OccupationConfig:
        return self.ranker.cfg

    def resolve(self, names: Sequence[str]) -> list[str]:
        """Skill URIs of keywords by exact ESCO name (what a keyword without a linker link can get)."""
        if self._index is None:
            self._index = Taxonomy(self.skills.assign(synonyms="", text=self.skills["label"])).exact_index()
        return resolve_names(names, self._index)

    def keyword_skills(self, keywords: Sequence[str], linked: Sequence[str | None] | None = None) -> list[str | None]:
        """Each keyword's ESCO skill URI: its linker link, else the one skill its exact name
        names (None when neither), so that the occupation works without a linker too."""
        linked = linked if linked is not None else [None] * len(keywords)
        out: list[str | None] = []
        for kw, uri in zip(keywords, linked, strict=True):
            if uri:
                out.append(uri)
                continue
            named = self.resolve([kw])
            out.append(named[0] if len(named) == 1 else None)
        return out

    def analyze(self, texts: Sequence[str], skills: Sequence[Sequence[str]], titles: Sequence[str | None] | None = None,
                top_k: int | None = None) -> list[OccupationResult]:
        """Per posting: its title (given, else its first line when that reads as a title), the
        ``top_k`` occupations from title and skill URIs, and each skill's importance for the first."""
        titles = titles or [None] * len(texts)
        used = [title_of(t, g) for t, g in zip(texts, titles, strict=True)]
        ranked = self.ranker.rank(used, skills, top_k, self.labels)
        out = []
        for title, uris, occs in zip(used, skills, ranked, strict=True):
            imp = dict(zip(uris, self.ranker.importance(occs[0].uri, uris), strict=True)) if occs else {}
            out.append(OccupationResult(title, occs, imp))
        return out

    def classify_importance(self, role_text: str, skill_uris: Sequence[str], role_title: str | None = None) -> list[RoleSkill]:
        """Essential or optional for a role ESCO may not have (a company's own role): the classifier."""
        if self.importance_model is None:
            raise ValueError("this occupation model has no core/fringe classifier")
        enc = self.ranker.encoder()
        title = role_title or title_of(role_text) or role_text[:200]
        t_emb, r_emb = enc.encode([title, role_text])
        ctx = self._context()
        uris = [u for u in dict.fromkeys(skill_uris)]
        p = self.importance_model.predict_proba(pair_features(ctx, r_emb, t_emb, uris)) if uris else np.zeros(0)
        thr = self.importance_model.threshold
        return [RoleSkill(uri=u, label=self.labels.get(u, u), importance="essential" if q >= thr else "optional",
                          probability=round(float(q), 4)) for u, q in zip(uris, p, strict=True)]

    def _context(self) -> Any:
        if self._ctx is None:
            emb = dict(zip(self.ranker.skill_uris, self.vectors["skill_emb"].astype(np.float32), strict=True))
            self._ctx = build_context(self.ranker.taxonomy, emb, self.skills, self.vectors["occ_text_emb"].astype(np.float32),
                                      self.importance_model.params.neighbours if self.importance_model else 10)
        return self._ctx

    # ---- persistence ------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        r = self.ranker
        np.savez(d / "vectors.npz", name_emb=r.name_emb.astype(np.float16),
                 **{k: v.astype(np.float16) for k, v in self.vectors.items()})
        r.taxonomy.occupations.to_parquet(d / "occupations.parquet", index=False)
        r.taxonomy.relations.to_parquet(d / "relations.parquet", index=False)
        self.skills.to_parquet(d / "skills.parquet", index=False)
        if self.importance_model is not None:
            self.importance_model.save(d)
        enc = r.encoder_path
        if self.own_encoder:
            if Path(enc).resolve() != (d / TITLE_ENCODER_DIR).resolve():
                shutil.copytree(enc, d / TITLE_ENCODER_DIR, dirs_exist_ok=True)
            enc = TITLE_ENCODER_DIR
        elif Path(enc).resolve() == Path(encoder_or_default(None)).resolve():
            enc = None
        meta = {"kind": "occupations", "format": FORMAT, "config": r.cfg.model_dump(mode="json"), "weights": r.weights,
                "calibration": r.calibration, "encoder": enc, "occupations": len(r.taxonomy), "metrics": self.metrics}
        (d / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None) -> OccupationModel:
        d = Path(model_dir)
        if not (d / MODEL_FILE).exists():
            raise FileNotFoundError(f"{d} is not an occupation model folder (no {MODEL_FILE})")
        meta = json.loads((d / MODEL_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{d / MODEL_FILE} has format {meta.get('format')}; this version reads format {FORMAT}")
        cfg = OccupationConfig.model_validate({**meta["config"], **({"device": device} if device else {})})
        occ = pd.read_parquet(d / "occupations.parquet")
        for col in ("alt_labels", "titles"):
            if col in occ:
                occ[col] = occ[col].map(list)
        skills = pd.read_parquet(d / "skills.parquet")
        if "alt_labels" in skills:
            skills["alt_labels"] = skills["alt_labels"].map(list)
        vec = np.load(d / "vectors.npz")
        own = meta.get("encoder") == TITLE_ENCODER_DIR
        encoder = str(d / TITLE_ENCODER_DIR) if own else encoder_or_default(meta.get("encoder"))
        ranker = OccupationRanker(cfg, OccupationTaxonomy(occ, pd.read_parquet(d / "relations.parquet")),
                                  encoder, vec["name_emb"], meta["weights"], meta.get("calibration"))
        importance = ImportanceModel.load(d) if (d / "importance.json").exists() else None
        return cls(ranker, skills, importance, {k: vec[k] for k in ("skill_emb", "occ_text_emb")}, meta.get("metrics"),
                   own_encoder=own)


def latest_model_dir() -> Path:
    """``<models_dir>/<occupation_model_name>/latest``: where ``jobskills occupations build`` saves."""
    from common.core.artifacts import latest_dir
    from common.core.settings import get_settings

    return latest_dir(get_settings().occupation_model_name)


def default_model_dir() -> Path:
    """The registry champion's folder when there is one, else ``latest_model_dir()``."""
    from common import registry
    from common.core.settings import get_settings

    return registry.champion_or_latest(get_settings().occupation_model_name, latest_model_dir())
