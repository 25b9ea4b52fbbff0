"""ESCO occupations, their names, and which skills each one needs (essential or optional).

Why a module of its own: ``occupations.csv`` keeps a occupation's alternative labels as one
newline-separated cell, and ``occupation_skill_relations.csv`` is ESCO's core/fringe distinction
(``essential`` / ``optional``) per occupation. Ranking occupations for a posting, building
pseudo-postings and the core/fringe classifier all read the same two frames from here.

The split rule lives here too, so that no fitting can see a test occupation: an occupation's
split is the first byte of the SHA-256 of its URI (``split_of``), 80 % train, 10 % dev, 10 % test.

This service uses the ESCO classification of the European Commission.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

OccupationSplit = Literal["train", "dev", "test"]
RELATIONS = ("essential", "optional")
OCCUPATION_COLUMNS = ("conceptUri", "iscoGroup", "preferredLabel", "altLabels", "description")
RELATION_COLUMNS = ("occupation_uri", "relation_type", "skill_type", "skill_uri")


def split_of(uri: str) -> OccupationSplit:
    """``train`` / ``dev`` / ``test`` from the URI alone: SHA-256 of the UTF-8 URI, its first
    byte modulo 10; 0-7 train, 8 dev, 9 test. A stable rule, independent of file order."""
    bucket = hashlib.sha256(uri.encode("utf-8")).digest()[0] % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


@dataclass
class OccupationTaxonomy:
    """``occupations``: ``uri, label, isco, alt_labels`` (list), ``description``, ``split``;
    ``relations``: ``occupation_uri, skill_uri, relation_type, skill_type``."""

    occupations: pd.DataFrame
    relations: pd.DataFrame
    _skills_of: dict[str, dict[str, list[str]]] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.occupations)

    def names(self) -> tuple[list[str], list[int]]:
        """Every name of every occupation (preferred label, the alternative labels, then the real
        job titles of the optional ``titles`` column) and the row it names; a row's names are
        contiguous (``np.maximum.reduceat`` takes per-row maxima)."""
        strings: list[str] = []
        owner: list[int] = []
        for i, row in enumerate(self.occupations.itertuples(index=False)):
            for s in dict.fromkeys([row.label, *row.alt_labels, *getattr(row, "titles", ())]):
                if s:
                    strings.append(s)
                    owner.append(i)
        return strings, owner

    def skills_of(self, uri: str) -> dict[str, list[str]]:
        """``{"essential": [skill uris], "optional": [...]}`` of one occupation."""
        if not self._skills_of:
            by: dict[str, dict[str, list[str]]] = {}
            for occ, skill, rel in zip(self.relations["occupation_uri"], self.relations["skill_uri"],
                                       self.relations["relation_type"], strict=True):
                by.setdefault(occ, {r: [] for r in RELATIONS})[rel].append(skill)
            self._skills_of = by
        return self._skills_of.get(uri, {r: [] for r in RELATIONS})

    def with_titles(self, titles: dict[str, list[str]]) -> OccupationTaxonomy:
        """A copy whose occupations carry ``titles`` (URI -> real job titles) as extra names."""
        occ = self.occupations.copy()
        occ["titles"] = [list(titles.get(u, [])) for u in occ["uri"]]
        return OccupationTaxonomy(occ, self.relations)

    def in_split(self, *splits: OccupationSplit) -> pd.DataFrame:
        return self.occupations[self.occupations["split"].isin(splits)]

    def subset(self, uris: list[str] | set[str]) -> OccupationTaxonomy:
        """Only these occupations and their relations (tests, quick builds)."""
        keep = set(uris)
        occ = self.occupations[self.occupations["uri"].isin(keep)].reset_index(drop=True)
        rel = self.relations[self.relations["occupation_uri"].isin(keep)].reset_index(drop=True)
        return OccupationTaxonomy(occ, rel)


def _split_lines(value: str) -> list[str]:
    return [a for a in dict.fromkeys(" ".join(x.split()) for x in str(value).split("\n")) if a]


def load_occupations(esco_dir: str | Path | None = None) -> OccupationTaxonomy:
    """``occupations.csv`` and ``occupation_skill_relations.csv`` as an ``OccupationTaxonomy``."""
    from common.data import esco

    root = esco.esco_dir(esco_dir)
    occ_path, rel_path = root / "occupations.csv", root / "occupation_skill_relations.csv"
    for p in (occ_path, rel_path):
        if not p.exists():
            raise esco.EscoMissingError(f"ESCO occupation file not found: {p}")
    occ = pd.read_csv(occ_path, dtype=str, keep_default_na=False)
    rel = pd.read_csv(rel_path, dtype=str, keep_default_na=False)
    for path, df, cols in ((occ_path, occ, OCCUPATION_COLUMNS), (rel_path, rel, RELATION_COLUMNS)):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}")
    bad = sorted(set(rel["relation_type"]) - set(RELATIONS))
    if bad:
        raise ValueError(f"{rel_path}: relation_type must be essential or optional, found {bad[:3]}")
    frame = pd.DataFrame({
        "uri": occ["conceptUri"], "label": occ["preferredLabel"].str.strip(), "isco": occ["iscoGroup"],
        "alt_labels": occ["altLabels"].map(_split_lines), "description": occ["description"],
    })
    frame["split"] = frame["uri"].map(split_of)
    rel = rel.drop_duplicates(["occupation_uri", "skill_uri"]).reset_index(drop=True)
    return OccupationTaxonomy(frame.reset_index(drop=True), rel[list(RELATION_COLUMNS)])


def occupations_frame(rows: list[dict], relations: list[dict]) -> OccupationTaxonomy:
    """A hand-made taxonomy (tests, a company's own roles): rows need ``uri`` and ``label``,
    relations ``occupation_uri``, ``skill_uri`` and ``relation_type``."""
    occ = pd.DataFrame(rows)
    if not {"uri", "label"} <= set(occ.columns):
        raise ValueError("occupation rows need 'uri' and 'label'")
    n = len(occ)
    occ["alt_labels"] = [list(v) if isinstance(v, (list, tuple)) else [] for v in occ.get("alt_labels", [None] * n)]
    for col in ("isco", "description"):
        occ[col] = occ[col] if col in occ else ""
    occ["split"] = occ["split"] if "split" in occ else occ["uri"].map(split_of)
    rel = pd.DataFrame(relations, columns=list(RELATION_COLUMNS)).fillna("")
    return OccupationTaxonomy(occ[["uri", "label", "isco", "alt_labels", "description", "split"]].reset_index(drop=True),
                              rel)
