"""Build the occupation model: index the names, fit the ranking weights and the core/fringe
classifier on training occupations, measure both on dev and test occupations, save.

Nothing here sees a dev or test occupation while fitting (``taxonomy.split_of``); their names and
skill lists are in the index, as every occupation's are: that is what a posting is ranked against.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.core.config import encoder_or_default
from common.linking.taxonomy import Taxonomy
from common.occupations.config import OccupationConfig
from common.occupations.evaluate import evaluate_ranker, resolve_names
from common.occupations.pseudo import PseudoPosting, pseudo_postings
from common.occupations.ranker import FEATURES, OccupationRanker
from common.occupations.taxonomy import OccupationTaxonomy

logger = logging.getLogger(__name__)


def embed_names(cfg: OccupationConfig, taxonomy: OccupationTaxonomy, encoder_path: str,
                progress: bool = False) -> np.ndarray:
    """Vectors of every occupation name, in ``taxonomy.names()`` order (cached by text)."""
    from common.text.embeddings import Encoder, embed_texts

    names, _ = taxonomy.names()
    enc = Encoder(encoder_path, device=cfg.device, max_length=cfg.max_length, num_threads=cfg.threads)
    return embed_texts(names, encoder=enc, progress=progress)


def fit_weights(ranker: OccupationRanker, postings: Sequence[PseudoPosting], index: dict[str, list[str]],
                negatives: int = 30, seed: int = 13, batch: int = 128) -> dict[str, float]:
    """Logistic-regression weights over ``FEATURES``: each posting's own occupation against its
    ``negatives`` hardest others (highest summed evidence) and as many random ones."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    negatives = min(negatives, len(ranker.uris) - 1)
    X, y = [], []
    for s in range(0, len(postings), batch):
        part = postings[s : s + batch]
        F = ranker.features([p.title for p in part], [resolve_names(p.skills, index) for p in part],
                            [p.held_out for p in part])
        prior = F.sum(axis=-1)
        for i, p in enumerate(part):
            true = ranker._row[p.occupation_uri]
            prior[i, true] = -np.inf
            hard = np.argpartition(-prior[i], negatives)[:negatives]
            rand = rng.choice(F.shape[1], size=negatives, replace=False)
            neg = np.setdiff1d(np.union1d(hard, rand), [true])
            X += [F[i, true], *F[i, neg]]
            y += [1] + [0] * len(neg)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(np.asarray(X), np.asarray(y))
    return {**{f: round(float(w), 5) for f, w in zip(FEATURES, clf.coef_[0], strict=True)},
            "bias": round(float(clf.intercept_[0]), 5)}


def build_occupation_model(cfg: OccupationConfig, occupations: OccupationTaxonomy | None = None,
                           skills: Taxonomy | None = None, out_dir: str | Path | None = None,
                           progress: bool = True) -> Any:
    """Index, fit (train occupations), measure (dev, test), save. Returns the ``OccupationModel``."""
    from common.linking.taxonomy import load_taxonomy
    from common.occupations.model import OccupationModel, skill_names
    from common.occupations.taxonomy import load_occupations

    t0 = time.perf_counter()
    occupations = occupations if occupations is not None else load_occupations()
    skills = skills if skills is not None else load_taxonomy()
    encoder_path = encoder_or_default(cfg.encoder)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ranker = OccupationRanker(cfg, occupations, encoder_path, embed_names(cfg, occupations, encoder_path, progress))
    timings["index"] = time.perf_counter() - t
    index = skills.exact_index()
    train = pseudo_postings(occupations, skills, "train", seed=cfg.seed)
    if cfg.max_train_occupations and len(train) > cfg.max_train_occupations:
        train = train[: cfg.max_train_occupations]
    t = time.perf_counter()
    for key, titled in (("with_title", True), ("without_title", False)):
        posts = train if titled else [PseudoPosting(p.occupation_uri, None, p.skills, None) for p in train]
        ranker.weights[key] = fit_weights(ranker, posts, index, cfg.negatives, cfg.seed)
    timings["fit_ranker"] = time.perf_counter() - t
    metrics: dict[str, Any] = {"train_occupations": len(train)}
    for split in ("dev", "test"):
        for titled in (True, False):
            posts = pseudo_postings(occupations, skills, split, with_title=titled, seed=cfg.seed)
            if posts:
                metrics[f"{split}_{'title' if titled else 'no_title'}"] = evaluate_ranker(ranker, posts, index)
    t = time.perf_counter()
    importance, vectors = fit_importance(cfg, occupations, skills, ranker, progress=progress)
    timings["fit_importance"] = time.perf_counter() - t
    metrics["importance"] = importance.metrics
    metrics["timings"] = timings
    metrics["build_seconds"] = time.perf_counter() - t0
    model = OccupationModel(ranker, skill_names(skills), importance, vectors, metrics)
    if out_dir is not None:
        model.save(out_dir)
    return model


def occupation_texts(occupations: OccupationTaxonomy) -> list[str]:
    """What an occupation is about: its preferred label and description."""
    occ = occupations.occupations
    return [f"{lab}. {desc}".strip() for lab, desc in zip(occ["label"], occ["description"], strict=True)]


def fit_importance(cfg: OccupationConfig, occupations: OccupationTaxonomy, skills: Taxonomy,
                   ranker: OccupationRanker, progress: bool = False) -> tuple[Any, dict[str, np.ndarray]]:
    """The core/fringe classifier and the vectors it needs (``skill_emb`` by skill URI order of
    ``ranker.skill_uris``, ``occ_text_emb`` in occupation order)."""
    from common.occupations.importance import build_context, fit_importance_model
    from common.text.embeddings import embed_texts

    labels = dict(zip(skills.skills["uri"], skills.skills["label"], strict=True))
    enc = ranker.encoder()
    skill_vecs = embed_texts([labels.get(u, u) for u in ranker.skill_uris], encoder=enc, progress=progress)
    occ_text = embed_texts(occupation_texts(occupations), encoder=enc.with_max_length(cfg.text_max_length),
                           progress=progress)
    vectors = {"skill_emb": skill_vecs, "occ_text_emb": occ_text}
    ctx = build_context(occupations, dict(zip(ranker.skill_uris, skill_vecs, strict=True)), skills.skills, occ_text,
                        cfg.importance.neighbours)
    model = fit_importance_model(cfg, ctx, occupations, occ_text, ranker.name_emb[ranker._starts])
    return model, vectors
