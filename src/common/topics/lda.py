"""LDA topics with default parameters, and LDADE: LDA tuned by differential evolution for stability.

Seed 000 notes that LDA suffers from "order effects": shuffling the training documents gives
different topics, so default LDA settings give unstable topics. Agrawal, Fu and Menzies
("What is wrong with topic modeling? And how to fix it using search-based software
engineering", IST 2018) tune LDA's number of topics ``k``, document-topic prior ``alpha`` and
topic-word prior ``beta`` with differential evolution, maximising the *median stability* of the
top words across runs on shuffled data. Here: scikit-learn's ``LatentDirichletAllocation``
(variational Bayes), stability from ``common.topics.metrics`` (matched Jaccard of top words),
scipy's ``differential_evolution`` with a small budget (few members, few generations, a capped
vocabulary and optional document subsample).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from common.core.config import StageConfig, StrictModel
from common.topics.metrics import stability, topic_diversity

TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z0-9]+\b"


class LDAParams(StrictModel):
    """Parameters searched by LDADE; ``None`` priors mean scikit-learn's default ``1 / n_topics``."""

    n_topics: int = 10
    alpha: float | None = None
    eta: float | None = None


class LDAConfig(StageConfig):
    yaml_section = "lda"
    """Vectoriser, fitting and LDADE search settings (YAML: the ``lda`` section of ``configs/topics.yaml``)."""

    max_features: int = Field(2000, description="Vocabulary cap (LDADE stays cheap with few terms).")
    min_df: int = 2
    max_df: float = 0.5
    max_iter: int = 10
    top_n: int = 10
    default: LDAParams = Field(default_factory=LDAParams)
    # LDADE search
    k_bounds: tuple[int, int] = (5, 30)
    alpha_bounds: tuple[float, float] = (0.01, 1.0)
    eta_bounds: tuple[float, float] = (0.01, 1.0)
    tune_runs: int = Field(3, description="Shuffled runs per candidate when tuning.")
    popsize: int = Field(3, description="scipy popsize multiplier: population = popsize * 3 parameters.")
    generations: int = 3
    tune_max_docs: int | None = Field(1500, description="Documents sampled for tuning (None = all).")
    objective: Literal["stability", "stability_x_diversity"] = Field(
        "stability_x_diversity",
        description="LDADE's median stability, times topic diversity by default: pure stability rewards "
        "collapsed topics (many copies of the same frequent words are trivially 'stable').",
    )
    seed: int = 13

def vectorize(texts: Sequence[str], cfg: LDAConfig) -> tuple[sp.csr_matrix, list[str]]:
    """Bag of words (English stop words and SkillSpan placeholders removed, vocabulary capped)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from common.topics.model import clean_text

    min_df = cfg.min_df if len(texts) >= 10 * cfg.min_df else 1
    max_df = cfg.max_df if len(texts) >= 20 else 1.0
    vec = CountVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN, min_df=min_df, max_df=max_df,
                          max_features=cfg.max_features)
    dt = vec.fit_transform([clean_text(t) for t in texts]).tocsr()
    return dt, vec.get_feature_names_out().tolist()


def fit_lda(dt: sp.spmatrix, params: LDAParams, max_iter: int = 10, seed: int = 0):
    """One scikit-learn LDA fit."""
    from sklearn.decomposition import LatentDirichletAllocation

    lda = LatentDirichletAllocation(
        n_components=int(params.n_topics), doc_topic_prior=params.alpha, topic_word_prior=params.eta,
        learning_method="batch", max_iter=max_iter, random_state=seed, n_jobs=1,
    )
    return lda.fit(dt)


def lda_top_words(lda, vocab: Sequence[str], n: int = 10) -> list[list[str]]:
    """Top ``n`` words of each LDA topic."""
    return [[vocab[j] for j in np.argsort(-row, kind="stable")[:n]] for row in lda.components_]


def shuffled_runs(
    dt: sp.spmatrix, vocab: Sequence[str], params: LDAParams, n_runs: int, seed: int, top_n: int = 10,
    max_iter: int = 10,
) -> tuple[list[list[list[str]]], list[Any]]:
    """Fit LDA ``n_runs`` times, each on a new shuffle of the documents (and a new seed): the order effect."""
    dt = sp.csr_matrix(dt)
    rng = np.random.default_rng(seed)
    runs, models = [], []
    for r in range(n_runs):
        perm = rng.permutation(dt.shape[0])
        lda = fit_lda(dt[perm], params, max_iter=max_iter, seed=seed + r)
        runs.append(lda_top_words(lda, vocab, top_n))
        models.append(lda)
    return runs, models


@dataclass
class TuneResult:
    """LDADE outcome: best parameters, their objective value, and every evaluation made."""

    params: LDAParams
    score: float
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    default_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.params.model_dump(), "objective": round(self.score, 4),
                "default_median_stability": None if self.default_score is None else round(self.default_score, 4),
                "evaluations": len(self.evaluations), "seconds": round(self.seconds, 1)}


def tune_ldade(
    dt: sp.spmatrix,
    vocab: Sequence[str],
    cfg: LDAConfig | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search (k, alpha, beta) with differential evolution for the most stable LDA (LDADE).

    Objective (maximised): median pairwise stability of the top words over ``tune_runs`` fits on
    shuffled document orders (LDADE), by default times the runs' topic diversity so that collapsed
    topics do not win. ``k`` is searched as an integer (scipy's ``integrality``).
    """
    from scipy.optimize import differential_evolution

    cfg = cfg or LDAConfig()
    t0 = time.perf_counter()
    dt = sp.csr_matrix(dt)
    rng = np.random.default_rng(cfg.seed)
    if cfg.tune_max_docs and dt.shape[0] > cfg.tune_max_docs:
        dt = dt[np.sort(rng.choice(dt.shape[0], cfg.tune_max_docs, replace=False))]
    evals: list[dict[str, Any]] = []

    def score(params: LDAParams) -> float:
        # The same shuffles and seeds for every candidate (common random numbers): candidates are
        # compared on their parameters, not on luckier shuffles.
        runs, _ = shuffled_runs(dt, vocab, params, cfg.tune_runs, seed=cfg.seed, top_n=cfg.top_n,
                                max_iter=cfg.max_iter)
        stab = stability(runs, reduce="median")
        div = float(np.mean([topic_diversity(r, cfg.top_n) for r in runs]))
        s = stab * div if cfg.objective == "stability_x_diversity" else stab
        rec = {**params.model_dump(), "median_stability": stab, "diversity": div, "objective": s}
        evals.append(rec)
        if on_eval:
            on_eval(rec)
        return s

    def objective(x: np.ndarray) -> float:
        return -score(LDAParams(n_topics=int(round(x[0])), alpha=float(x[1]), eta=float(x[2])))

    bounds = [cfg.k_bounds, cfg.alpha_bounds, cfg.eta_bounds]
    # The library default joins the first population (when inside the bounds), so the search starts
    # from where an untuned user stands and can only report something at least as stable on this data.
    d = cfg.default
    k0 = int(np.clip(d.n_topics, *cfg.k_bounds))
    x0 = [k0, float(np.clip(d.alpha if d.alpha is not None else 1.0 / k0, *cfg.alpha_bounds)),
          float(np.clip(d.eta if d.eta is not None else 1.0 / k0, *cfg.eta_bounds))]
    res = differential_evolution(
        objective, bounds, integrality=[True, False, False], popsize=cfg.popsize, maxiter=cfg.generations,
        seed=cfg.seed, polish=False, init="latinhypercube", updating="immediate", workers=1, tol=0.0, x0=x0,
    )
    best = LDAParams(n_topics=int(round(res.x[0])), alpha=float(res.x[1]), eta=float(res.x[2]))
    return TuneResult(params=best, score=float(-res.fun), evaluations=evals, seconds=time.perf_counter() - t0)
