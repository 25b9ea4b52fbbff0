"""Hub skills: a per-skill background level that the sentence evidence is corrected by.

Why: in a sentence embedding space a few skills sit near every generic sentence (*apply GMP*,
*apply HACCP*, *apply Montessori teaching strategies* were implied by a third of the City of Los
Angeles bulletins, the top skills of a 311 call-centre director). Dense retrieval calls these
hubs; CSLS (Conneau et al., 2018) corrects them by each target's mean similarity to its nearest
queries. Here the queries are a fixed background of ordinary job sentences, so the level is a
property of the skill and is computed once, when the linker is built:

    level[j] = mean of skill j's ``k`` highest sentence evidences over the background
    corrected[i, j] = evidence[i, j] - hub_weight * (level[j] - mean(level))

A skill that is close to everything ordinary (a hub) loses; one that only a specific sentence
reaches keeps its evidence. The background is SkillSpan **train** sentences and O*NET task
statements: real job text, none of it the LA bulletins the hub rate is measured on, nor the
Decorte sentences the weights are chosen and checked on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HUB_FILE = "hub_levels.npy"


def background_sentences(limit: int = 4000, seed: int = 13, unlabeled: str | Path | None = None,
                         data_dir: str | Path | None = None) -> list[str]:
    """``limit`` distinct ordinary job sentences, half SkillSpan train sentences (of ``data_dir``,
    default the shared data folder) and half O*NET task statements (whichever exist), seeded."""
    from common.core.settings import get_settings
    from common.data.skillspan import DataMissingError
    from common.keywords.unlabeled import source_texts
    from common.linking.retriever import ONET_SOURCE
    from common.linking.sentence_gate import skillspan_sentences

    path = Path(unlabeled) if unlabeled is not None else get_settings().unlabeled_postings
    onet = [" ".join(t.split()) for t in source_texts(path, ONET_SOURCE)]
    try:
        skillspan = [t for t in skillspan_sentences("train", data_dir)[0] if len(t.split()) >= 3]
    except DataMissingError:
        skillspan = []
    out: list[str] = []
    rng = random.Random(seed)
    for pool in (skillspan, onet):
        pool = [t for t in dict.fromkeys(pool) if t]
        rng.shuffle(pool)
        out += pool[: limit // 2]
    return out


def background_levels(linker: Any, sentences: Sequence[str], k: int = 10, chunk: int = 256,
                      progress: bool = False) -> np.ndarray:
    """Per skill, the mean of its ``k`` highest uncorrected sentence evidences over ``sentences``."""
    from common.linking.skills import sentence_evidence

    best = np.full((0, len(linker.uris)), -np.inf, dtype=np.float32)
    steps = range(0, len(sentences), chunk)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="hub levels", unit="chunk")
    for lo in steps:
        E = sentence_evidence(linker, sentences[lo : lo + chunk], linker.cfg.skills, correct=False)
        both = np.concatenate([best, E], axis=0)
        keep = min(k, len(both))
        best = -np.partition(-both, keep - 1, axis=0)[:keep]
    return best.mean(axis=0).astype(np.float32) if len(best) else np.zeros(len(linker.uris), dtype=np.float32)


def correction(levels: np.ndarray | None, weight: float) -> np.ndarray | float:
    """What is subtracted from every sentence's evidence: ``weight`` x (level - mean level)."""
    if levels is None or not weight:
        return 0.0
    return (weight * (levels - levels.mean())).astype(np.float32)


def save_levels(folder: str | Path, levels: np.ndarray | None) -> None:
    if levels is not None:
        np.save(Path(folder) / HUB_FILE, levels.astype(np.float32))


def load_levels(folder: str | Path) -> np.ndarray | None:
    path = Path(folder) / HUB_FILE
    return np.load(path).astype(np.float32) if path.exists() else None
