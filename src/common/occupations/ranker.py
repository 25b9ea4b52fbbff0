"""Rank ESCO occupations for a posting from its title and its linked skills.

Seven evidence columns per (posting, occupation), each in [0, 1]:
- ``title_dense``: best cosine between the title and any of the occupation's names (ESCO's, and
  the real job titles of the training split when the model was built with them);
- ``title_votes``: the occupation's share of a soft vote of the title's ``votes_k`` nearest real
  training titles (weights ``exp((cos - 1) / votes_temperature)``): an occupation many similar
  titles name beats one a single lookalike names (R@1 on calib titles 0.377 -> 0.464);
- ``title_lexical``: best rapidfuzz token-sort ratio with any name (exact words such as "SAP");
- ``essential`` / ``optional``: the IDF-weighted share of the occupation's essential (optional)
  skills that the posting names: a skill every occupation lists says little;
- ``precision``: the IDF-weighted share of the posting's skills that the occupation lists at all;
- ``jaccard``: plain overlap of the posting's skills with the occupation's (sizes matter, not IDF).

The score is a logistic regression over them, one set of weights per kind of query
(``weight_key``): ``with_title`` and ``without_title`` fitted on pseudo-postings of training
occupations (``training.fit_weights``), ``title_only`` (a title and fewer than ``titles.title_only_below``
known skills) on real job titles of the calibration split. Each set has its isotonic calibration (``calibration``), so the
served ``score`` is a confidence: the share of held-back queries of that kind answered right at it.
Every occupation is scored (3,039 x 7 numbers a posting), so no candidate stage can lose the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from scipy import sparse

from common.occupations.config import OccupationConfig
from common.occupations.taxonomy import RELATIONS, OccupationTaxonomy

FEATURES = ("title_dense", "title_lexical", "essential", "optional", "precision", "jaccard", "title_votes")
MAX_TITLE_CHARS = 200


class SkillRef(BaseModel):
    uri: str
    label: str


class OccupationMatch(BaseModel):
    uri: str
    label: str
    isco: str = Field(description="ISCO-08 unit group code of the occupation.")
    score: float = Field(description="Confidence in [0, 1] that this is the posting's occupation: the share of "
                         "held-back queries of the same kind (real titles; pseudo-postings with skills) that were "
                         "right at this score (isotonic calibration); the ranker's raw probability when the model "
                         "has no calibration.")
    essential: list[SkillRef] = Field(default_factory=list, description="The posting's skills that are essential for it.")
    optional: list[SkillRef] = Field(default_factory=list, description="The posting's skills that are optional for it.")


def title_of(text: str, title: str | None = None) -> str | None:
    """The given title, else the posting's first non-empty line when it reads as a title
    (at most 12 words and ``MAX_TITLE_CHARS`` characters)."""
    if title and title.strip():
        return " ".join(title.split())
    for line in str(text).splitlines():
        line = " ".join(line.strip(" -*#\t").split())
        if line:
            return line if len(line) <= MAX_TITLE_CHARS and len(line.split()) <= 12 else None
    return None


def title_mask(taxonomy: OccupationTaxonomy, names: Sequence[str], owner: np.ndarray) -> np.ndarray:
    """Which of ``taxonomy.names()`` are real job titles (the ``titles`` column) rather than ESCO's
    own names: the titles that vote (``title_votes``)."""
    occ = taxonomy.occupations
    if "titles" not in occ:
        return np.zeros(len(names), dtype=bool)
    esco = [{row.label, *row.alt_labels} for row in occ.itertuples(index=False)]
    return np.array([n not in esco[o] for n, o in zip(names, owner, strict=True)], dtype=bool)


def _reduce_max(S: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if S.shape[0] == 0:
        return np.zeros((0, len(starts)), dtype=np.float32)
    return np.maximum.reduceat(S, starts, axis=1)


class OccupationRanker:
    """The title index, the skill-relation matrices and the fitted weights."""

    def __init__(self, cfg: OccupationConfig, taxonomy: OccupationTaxonomy, encoder_path: str,
                 name_emb: np.ndarray, weights: dict[str, dict[str, float]] | None = None,
                 calibration: dict[str, dict[str, list[float]]] | None = None) -> None:
        self.cfg = cfg
        self.taxonomy = taxonomy
        self.encoder_path = encoder_path
        self.names, owner = taxonomy.names()
        self.name_owner = np.asarray(owner, dtype=np.int64)
        self._starts = np.concatenate([[0], np.nonzero(np.diff(self.name_owner))[0] + 1]).astype(np.int64)
        self.name_emb = np.asarray(name_emb, dtype=np.float32)
        self.is_title = title_mask(taxonomy, self.names, self.name_owner)
        if len(self.name_emb) != len(self.names):
            raise ValueError(f"{len(self.name_emb)} name vectors for {len(self.names)} occupation names")
        self.weights = weights or {}
        self.calibration = calibration or {}
        occ = taxonomy.occupations
        self.uris = occ["uri"].tolist()
        self._row = {u: i for i, u in enumerate(self.uris)}
        rel = taxonomy.relations[taxonomy.relations["occupation_uri"].isin(self._row)]
        self.skill_uris = sorted(set(rel["skill_uri"]))
        self._skill_col = {u: j for j, u in enumerate(self.skill_uris)}
        df = rel.groupby("skill_uri").size().reindex(self.skill_uris).to_numpy(dtype=np.float64)
        self.idf = (np.log((1 + len(occ)) / (1 + df)) + 1).astype(np.float32)
        self.matrices: dict[str, sparse.csr_matrix] = {}
        for r in RELATIONS:
            part = rel[rel["relation_type"] == r]
            rows = part["skill_uri"].map(self._skill_col).to_numpy()
            cols = part["occupation_uri"].map(self._row).to_numpy()
            self.matrices[r] = sparse.csr_matrix((self.idf[rows], (rows, cols)), shape=(len(self.skill_uris), len(occ)))
        self._totals = {r: np.asarray(m.sum(axis=0)).ravel() for r, m in self.matrices.items()}
        self.listed = ((self.matrices["essential"] + self.matrices["optional"]) > 0).astype(np.float32).tocsr()
        self._listed_n = np.asarray(self.listed.sum(axis=0), dtype=np.float32).reshape(1, -1)
        self._encoder: Any = None

    def encoder(self) -> Any:
        from common.text.embeddings import Encoder

        if self._encoder is None:
            self._encoder = Encoder(self.encoder_path, device=self.cfg.device, max_length=self.cfg.max_length,
                                    num_threads=self.cfg.threads)
        return self._encoder

    # ---- evidence ---------------------------------------------------------------------------
    def title_features(self, titles: Sequence[str | None],
                       held_out: Sequence[str | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dense, lexical, votes), each (n postings, n occupations); zeros for a posting without
        title. ``held_out[i]`` (a name) is hidden from posting i's index (pseudo-posting evaluation)."""
        from rapidfuzz import fuzz, process, utils

        n, m = len(titles), len(self.uris)
        dense = np.zeros((n, m), dtype=np.float32)
        lexical = np.zeros((n, m), dtype=np.float32)
        votes = np.zeros((n, m), dtype=np.float32)
        idx = [i for i, t in enumerate(titles) if t]
        if not idx:
            return dense, lexical, votes
        given = [str(titles[i]) for i in idx]
        S = self.encoder().encode(given) @ self.name_emb.T
        L = process.cdist(given, self.names, scorer=fuzz.token_sort_ratio, processor=utils.default_process,
                          dtype=np.float32, workers=1) / 100.0
        if held_out is not None:
            names = np.asarray(self.names, dtype=object)
            for k, i in enumerate(idx):
                if held_out[i]:
                    hide = names == held_out[i]
                    S[k, hide] = -1.0
                    L[k, hide] = 0.0
        dense[idx] = np.clip(_reduce_max(S, self._starts), 0.0, 1.0)
        lexical[idx] = _reduce_max(L, self._starts)
        if self.is_title.any():
            votes[idx] = self.title_votes(S[:, self.is_title], self.name_owner[self.is_title])
        return dense, lexical, votes

    def title_votes(self, S: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Per query row of ``S`` (cosines with the real titles, whose occupations are ``owner``):
        each occupation's share of the soft vote of the ``votes_k`` nearest titles."""
        tc = self.cfg.titles
        k = min(tc.votes_k, S.shape[1])
        near = np.argpartition(-S, k - 1, axis=1)[:, :k]
        w = np.exp((np.take_along_axis(S, near, axis=1) - 1.0) / tc.votes_temperature)
        out = np.zeros((S.shape[0], len(self.uris)), dtype=np.float32)
        np.add.at(out, (np.repeat(np.arange(S.shape[0]), k), owner[near].ravel()), w.ravel())
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)

    def skill_matrix(self, skills: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        """Postings x known skills, 1 where the posting names the skill (unknown URIs are dropped)."""
        rows, cols = [], []
        for i, uris in enumerate(skills):
            for j in {self._skill_col[u] for u in uris if u in self._skill_col}:
                rows.append(i)
                cols.append(j)
        return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                 shape=(len(skills), len(self.skill_uris)))

    def features(self, titles: Sequence[str | None], skills: Sequence[Sequence[str]],
                 held_out: Sequence[str | None] | None = None) -> np.ndarray:
        """(n postings, n occupations, len(FEATURES)) evidence."""
        if len(titles) != len(skills):
            raise ValueError(f"{len(titles)} titles for {len(skills)} skill lists")
        dense, lexical, votes = self.title_features(titles, held_out)
        X = self.skill_matrix(skills)
        hit = {r: np.asarray((X @ m).todense(), dtype=np.float32) for r, m in self.matrices.items()}
        cover = {r: hit[r] / np.maximum(self._totals[r], 1e-9) for r in RELATIONS}
        named = np.asarray(X @ self.idf, dtype=np.float32).reshape(-1, 1)
        precision = (hit["essential"] + hit["optional"]) / np.maximum(named, 1e-9)
        return np.stack([dense, lexical, cover["essential"], cover["optional"], precision, self.jaccard(X), votes],
                        axis=-1)

    def jaccard(self, X: sparse.csr_matrix) -> np.ndarray:
        """Jaccard of each posting's skill set (rows of ``skill_matrix``) with each occupation's listed skills."""
        inter = np.asarray((X @ self.listed).todense(), dtype=np.float32)
        size = np.asarray(X.sum(axis=1), dtype=np.float32).reshape(-1, 1)
        return inter / np.maximum(size + self._listed_n - inter, 1e-9)

    # ---- ranking ----------------------------------------------------------------------------
    def weight_key(self, title: str | None, skills: Sequence[str]) -> str:
        """Which fitted weights rank this query: ``title_only`` for a title with fewer known skills
        than ``titles.title_only_below`` (when fitted), else ``with_title`` or ``without_title``.
        Why below a few and not only at none: ``with_title`` and its calibration were fitted on
        pseudo-postings naming 60 % of an occupation's essential skills; a real posting naming one
        or two is far from those, and its title says more (README's posting: 0.01 -> 0.67)."""
        known = len({u for u in skills if u in self._skill_col})
        if title and "title_only" in self.weights and known < self.cfg.titles.title_only_below:
            return "title_only"
        return "with_title" if title else "without_title"

    def score(self, F: np.ndarray, keys: Sequence[str]) -> np.ndarray:
        """The fitted ranker's probability for each (posting, occupation); ``keys[i]`` names
        posting i's weights (``weight_key``)."""
        out = np.zeros(F.shape[:2], dtype=np.float32)
        for i, key in enumerate(keys):
            w = self.weights.get(key)
            if w is None:
                raise ValueError("the occupation ranker has no fitted weights; build it with build_occupation_model")
            z = F[i] @ np.array([w.get(f, 0.0) for f in FEATURES], dtype=np.float32) + w["bias"]
            out[i] = 1.0 / (1.0 + np.exp(-z))
        return out

    def scores(self, titles: Sequence[str | None], skills: Sequence[Sequence[str]],
               held_out: Sequence[str | None] | None = None) -> np.ndarray:
        keys = [self.weight_key(t, s) for t, s in zip(titles, skills, strict=True)]
        return self.score(self.features(titles, skills, held_out), keys)

    def confidence(self, raw: np.ndarray, key: str) -> np.ndarray:
        """Raw scores of ``key``'s weights -> calibrated confidence (unchanged without a calibration)."""
        cal = self.calibration.get(key)
        if not cal:
            return raw
        return np.interp(raw, cal["x"], cal["y"]).astype(np.float32)

    def rank(self, titles: Sequence[str | None], skills: Sequence[Sequence[str]], top_k: int | None = None,
             skill_labels: dict[str, str] | None = None) -> list[list[OccupationMatch]]:
        """Per posting, the ``top_k`` occupations with the posting's essential / optional skills for each."""
        k = min(top_k or self.cfg.top_k, len(self.uris))
        S = self.scores(titles, skills)
        occ = self.taxonomy.occupations
        labels = skill_labels or {}
        out = []
        for row, uris, title in zip(S, skills, titles, strict=True):
            top = np.argsort(-row, kind="stable")[:k]
            sure = self.confidence(row[top], self.weight_key(title, uris))
            named = set(uris)
            matches = []
            for j, conf in zip(top, sure, strict=True):
                need = self.taxonomy.skills_of(self.uris[j])
                refs = {r: [SkillRef(uri=u, label=labels.get(u, u)) for u in need[r] if u in named] for r in RELATIONS}
                matches.append(OccupationMatch(uri=self.uris[j], label=occ.at[j, "label"], isco=occ.at[j, "isco"],
                                               score=round(float(conf), 4), **refs))
            out.append(matches)
        return out

    def importance(self, occupation_uri: str, skill_uris: Sequence[str]) -> list[str]:
        """``essential`` / ``optional`` / ``other`` of each skill for an ESCO occupation (the lookup)."""
        need = self.taxonomy.skills_of(occupation_uri)
        ess, opt = set(need["essential"]), set(need["optional"])
        return ["essential" if u in ess else "optional" if u in opt else "other" for u in skill_uris]
