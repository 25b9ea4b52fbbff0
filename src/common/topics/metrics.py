"""Measures of a topic model's top words: stability across runs, diversity, NPMI coherence.

Stability answers the seed's worry about LDA's "order effects": fit the same model on shuffled
copies of the data and see whether the same topics come back. Two runs are compared by matching
their topics one-to-one (Hungarian assignment on Jaccard similarity of top-word sets) and
averaging the matched Jaccard scores; identical runs score exactly 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

TopWords = Sequence[Sequence[str]]


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """|a ∩ b| / |a ∪ b| of two word sets (1.0 for two empty sets)."""
    sa, sb = set(a), set(b)
    return 1.0 if not sa and not sb else len(sa & sb) / len(sa | sb)


def run_similarity(run_a: TopWords, run_b: TopWords) -> float:
    """Mean Jaccard of the best one-to-one topic matching between two runs.

    Topics left unmatched (when the runs found different numbers of topics) count as 0, so a
    run that lost or split topics is less similar; the mean is over the larger topic count.
    """
    if not run_a and not run_b:
        return 1.0
    if not run_a or not run_b:
        return 0.0
    sim = np.array([[jaccard(a, b) for b in run_b] for a in run_a])
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].sum() / max(len(run_a), len(run_b)))


def pairwise_similarities(runs: Sequence[TopWords]) -> list[float]:
    """``run_similarity`` of every pair of runs."""
    return [run_similarity(a, b) for a, b in itertools.combinations(runs, 2)]


def stability(runs: Sequence[TopWords], reduce: str = "mean") -> float:
    """Average (``mean``) or ``median`` (LDADE's choice) pairwise run similarity; 1.0 = identical topics."""
    if len(runs) < 2:
        raise ValueError("stability needs at least two runs to compare")
    sims = pairwise_similarities(runs)
    return float(np.median(sims) if reduce == "median" else np.mean(sims))


def topic_diversity(topics: TopWords, top_n: int = 25) -> float:
    """Share of unique words among the top ``top_n`` words of all topics (Dieng et al.); 1 = no overlap."""
    words = [w for t in topics for w in list(t)[:top_n]]
    return len(set(words)) / len(words) if words else 0.0


def npmi_coherence(topics: TopWords, tokenized_docs: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Mean NPMI coherence (gensim ``CoherenceModel``, ``c_npmi``) of the topics over the documents.

    Topic words missing from the documents' dictionary are dropped first (gensim raises on them);
    topics left with fewer than two words are skipped.
    """
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    dictionary = Dictionary(tokenized_docs)
    known = [[w for w in list(t)[:top_n] if w in dictionary.token2id] for t in topics]
    known = [t for t in known if len(t) >= 2]
    if not known:
        return float("nan")
    cm = CoherenceModel(
        topics=known, texts=[list(d) for d in tokenized_docs], dictionary=dictionary, coherence="c_npmi",
        topn=top_n, processes=1,
    )
    return float(np.nanmean(cm.get_coherence_per_topic()))
