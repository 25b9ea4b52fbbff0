"""Build the occupation model: index the names, fit the ranking weights and the core/fringe
classifier on training occupations, measure both on dev and test occupations, save.

Nothing here sees a dev or test occupation while fitting (``taxonomy.split_of``); their names and
skill lists are in the index, as every occupation's are: that is what a posting is ranked against.

With the real job titles (``occupations.titles``, split by title text): the title encoder is
trained on the ``train`` titles and on the training occupations' alternative labels, the ``train``
titles join the index, the title-only weights and every calibration are fitted on ``calib``, and
the figures users get (R@1 / R@5 / MRR beside the plain cosine, the calibration table) on ``test``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.config import encoder_or_default
from common.core.stats import calibration_table, isotonic_map
from common.linking.taxonomy import Taxonomy
from common.occupations.config import OccupationConfig
from common.occupations.evaluate import evaluate_ranker, resolve_names
from common.occupations.pseudo import PseudoPosting, pseudo_postings
from common.occupations.ranker import FEATURES, OccupationRanker
from common.occupations.taxonomy import OccupationTaxonomy
from common.occupations.titles import (
    TITLE_ENCODER_DIR,
    TitlesMissingError,
    extra_names,
    load_titles,
    plain_cosine_ranks,
    rank_table,
    ranks_and_top,
    title_pairs,
    title_scores,
)

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
    base_encoder = encoder_or_default(cfg.encoder)
    timings: dict[str, float] = {}
    real = real_titles(cfg, occupations)
    encoder_path, own_encoder = base_encoder, False
    if real is not None:
        t = time.perf_counter()
        encoder_path, own_encoder = train_title_encoder(cfg, occupations, real, base_encoder, out_dir, progress)
        timings["title_encoder"] = time.perf_counter() - t
        if cfg.titles.index:
            occupations = occupations.with_titles(extra_names(real[real["split"] == "train"]))
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
    fit_pseudo_calibration(ranker, occupations, skills, index, cfg.seed)
    if real is not None:
        t = time.perf_counter()
        metrics["titles"] = fit_and_measure_titles(cfg, ranker, real, index, base_encoder, own_encoder, progress)
        timings["titles"] = time.perf_counter() - t
    t = time.perf_counter()
    importance, vectors = fit_importance(cfg, occupations, skills, ranker, progress=progress)
    timings["fit_importance"] = time.perf_counter() - t
    metrics["importance"] = importance.metrics
    metrics["timings"] = timings
    metrics["build_seconds"] = time.perf_counter() - t0
    model = OccupationModel(ranker, skill_names(skills), importance, vectors, metrics, own_encoder=own_encoder)
    if out_dir is not None:
        model.save(out_dir)
    return model


def real_titles(cfg: OccupationConfig, occupations: OccupationTaxonomy) -> pd.DataFrame | None:
    """The real job titles of these occupations with their split, or None (titles off, the file
    absent, or too few of its labels among these occupations)."""
    if not cfg.titles.enabled:
        return None
    try:
        real = load_titles(occupations, cfg.titles.path)
    except TitlesMissingError as err:
        logger.warning("%s: occupations are ranked from ESCO's names alone", err)
        return None
    if (real["split"] == "train").sum() < cfg.titles.min_pairs or (real["split"] == "calib").sum() < 10:
        logger.info("only %d real titles name these occupations: ESCO's names alone", len(real))
        return None
    return real


def train_title_encoder(cfg: OccupationConfig, occupations: OccupationTaxonomy, real: pd.DataFrame,
                        base_encoder: str, out_dir: str | Path | None, progress: bool) -> tuple[str, bool]:
    """(encoder folder, whether it is the model's own): contrastive pairs of the ``train`` titles
    and the training occupations' alternative labels, each with its occupation's preferred label
    (``common.text.mirror_bert``: in-batch negatives, no string twice in a batch)."""
    from common.text.mirror_bert import MirrorConfig, train_mirror_bert

    tc = cfg.titles
    pairs = title_pairs(real[real["split"] == "train"], occupations)
    if tc.epochs == 0 or len(pairs) < tc.min_pairs:
        return base_encoder, False
    target = Path(out_dir) / TITLE_ENCODER_DIR if out_dir is not None else Path(tempfile.mkdtemp()) / TITLE_ENCODER_DIR
    mc = MirrorConfig(encoder=base_encoder, epochs=tc.epochs, batch_size=tc.batch_size, lr=tc.lr,
                      temperature=tc.temperature, max_length=tc.max_length, span_mask=0, max_steps=tc.max_steps,
                      seed=cfg.seed, device=cfg.device)
    key = hashlib.sha256(json.dumps([mc.model_dump(mode="json"), pairs]).encode("utf-8")).hexdigest()
    marker = target / "title_pairs.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("key") == key:
        logger.info("title encoder at %s already trained on these pairs: reused", target)
        return str(target), True
    train_mirror_bert(mc.model_copy(update={"threads": cfg.threads}), [], target, progress=progress, pairs=pairs)
    marker.write_text(json.dumps({"key": key, "pairs": len(pairs)}), encoding="utf-8")
    return str(target), True


def fit_pseudo_calibration(ranker: OccupationRanker, occupations: OccupationTaxonomy, skills: Taxonomy,
                           index: dict[str, list[str]], seed: int) -> None:
    """The confidence of a posting with skills (``with_title``, ``without_title``): isotonic maps
    fitted on dev occupations' pseudo-postings, the only postings here labelled with their occupation."""
    for titled in (True, False):
        posts = pseudo_postings(occupations, skills, "dev", with_title=titled, seed=seed)
        if posts:
            S = ranker.scores([p.title for p in posts], [resolve_names(p.skills, index) for p in posts],
                              [p.held_out for p in posts])
            raw, right = _top_scores(S, np.asarray([ranker._row[p.occupation_uri] for p in posts]))
            ranker.calibration["with_title" if titled else "without_title"] = isotonic_map(raw, right)


def _top_scores(scores: np.ndarray, truth: np.ndarray, top: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The raw scores of each query's ``top`` best occupations and whether each is right: what a
    calibration is fitted on (every returned occupation gets a confidence, not only the first)."""
    _, best, right = ranks_and_top(scores, truth, top)
    return np.take_along_axis(scores, best, axis=1).ravel(), right.ravel()


def fit_and_measure_titles(cfg: OccupationConfig, ranker: OccupationRanker, real: pd.DataFrame,
                           index: dict[str, list[str]], base_encoder: str, own_encoder: bool,
                           progress: bool) -> dict[str, Any]:
    """Fit the title-only weights and their calibration on ``calib`` titles; report ``test``
    titles beside the plain cosine of the base encoder, and the calibration table."""
    from common.text.embeddings import Encoder

    calib, test = real[real["split"] == "calib"], real[real["split"] == "test"]
    posts = [PseudoPosting(u, t, [], None) for t, u in zip(calib["text"], calib["uri"], strict=True)]
    ranker.weights["title_only"] = fit_weights(ranker, posts, index, cfg.negatives, cfg.seed)
    truth = np.asarray([ranker._row[u] for u in calib["uri"]])
    ranker.calibration["title_only"] = isotonic_map(*_top_scores(title_scores(ranker, calib["text"].tolist()), truth))
    truth = np.asarray([ranker._row[u] for u in test["uri"]])
    S = title_scores(ranker, test["text"].tolist())
    ranks, best, right = ranks_and_top(S, truth, 1)
    conf = ranker.confidence(S[np.arange(len(S)), best[:, 0]], "title_only")
    base = Encoder(base_encoder, device=cfg.device, max_length=cfg.max_length, num_threads=cfg.threads)
    return {"split": "random by title text: 70 % train, 10 % calib, 20 % test (occupations.titles)",
            "train_titles": int((real["split"] == "train").sum()), "own_encoder": own_encoder,
            "test": {"model": rank_table(ranks),
                     "plain_cosine": rank_table(plain_cosine_ranks(base, ranker.taxonomy, test["text"].tolist(), truth,
                                                                   progress))},
            "calibration_test": calibration_table(conf, right[:, 0])}


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
