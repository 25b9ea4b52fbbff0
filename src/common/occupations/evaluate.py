"""Occupation ranking measured on pseudo-postings of held-out occupations, beside two baselines.

``title cosine`` ranks by the best cosine of the title with an occupation's names (the title
index alone); ``skill overlap`` by the Jaccard overlap of the posting's skills with the
occupation's listed skills (the relation lookup alone). The fitted ranker should beat both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common.occupations.pseudo import PseudoPosting
from common.occupations.ranker import FEATURES, OccupationRanker


def resolve_names(names: Sequence[str], index: dict[str, list[str]]) -> list[str]:
    """ESCO skill URIs of the names a posting writes, by exact (case-folded) name; a name two
    skills share gives both, an unknown name nothing."""
    out: list[str] = []
    for n in names:
        for u in index.get(" ".join(str(n).lower().split()), []):
            if u not in out:
                out.append(u)
    return out


def ranks_of(scores: np.ndarray, truth: Sequence[int]) -> np.ndarray:
    """1-based rank of the true occupation per row (ties count against it)."""
    true = scores[np.arange(len(truth)), np.asarray(truth)]
    return (scores >= true[:, None]).sum(axis=1)


def recall_table(ranks: np.ndarray) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {"r_at_1": round(float((ranks <= 1).sum() / n), 4), "r_at_5": round(float((ranks <= 5).sum() / n), 4),
            "r_at_10": round(float((ranks <= 10).sum() / n), 4), "mrr": round(float((1.0 / ranks).sum() / n), 4),
            "n": int(len(ranks))}


def evaluate_ranker(ranker: OccupationRanker, postings: Sequence[PseudoPosting],
                    index: dict[str, list[str]], batch: int = 128,
                    resolve: Callable[[list[str]], list[str]] | None = None) -> dict[str, Any]:
    """R@1 / R@5 / R@10 / MRR of the ranker and of the two baselines over ``postings``. Skill names
    become URIs by exact name (``index``), or by ``resolve`` (e.g. the linker's links)."""
    resolve = resolve or (lambda names: resolve_names(names, index))
    truth = [ranker._row[p.occupation_uri] for p in postings]
    r_model, r_title, r_overlap = [], [], []
    for s in range(0, len(postings), batch):
        part = postings[s : s + batch]
        skills = [resolve(p.skills) for p in part]
        titles = [p.title for p in part]
        F = ranker.features(titles, skills, [p.held_out for p in part])
        t = truth[s : s + batch]
        r_model.append(ranks_of(ranker.score(F, [ranker.weight_key(x, u) for x, u in zip(titles, skills, strict=True)]), t))
        r_title.append(ranks_of(F[..., FEATURES.index("title_dense")], t))
        r_overlap.append(ranks_of(F[..., FEATURES.index("jaccard")], t))
    out = {"ranker": recall_table(np.concatenate(r_model)), "skill_overlap": recall_table(np.concatenate(r_overlap))}
    if any(p.title for p in postings):
        out["title_cosine"] = recall_table(np.concatenate(r_title))
    return out
