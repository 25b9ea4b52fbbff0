"""Which sentences can carry a skill: a logistic regression over the sentence encoder's vectors.

Why: a posting's implied skills came as much from its headings, salary lines, exam and EEO
boilerplate as from its duties ("The City of Los Angeles does not discriminate..." implied *apply
GMP*). SkillSpan labels every sentence of 140 real postings, with or without a Skill or Knowledge
span: that is the supervision for "does this sentence name or imply a skill at all". The gate is
fitted on SkillSpan **train** sentences, its threshold chosen on SkillSpan **dev** (the lowest
probability that keeps ``recall`` of the dev sentences that do carry a span), and it is measured
on sites and postings it never saw (the Decorte files, the LA bulletins). A sentence it drops
implies nothing; its keywords' own links are kept.

The vectors are the ones the sentence evidence already computes, so the gate costs one dot
product per sentence when serving.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GATE_FILE = "sentence_gate.json"
logger = logging.getLogger(__name__)


@dataclass
class SentenceGate:
    coef: np.ndarray
    bias: float
    threshold: float
    metrics: dict[str, Any] = field(default_factory=dict)

    def probability(self, E: np.ndarray) -> np.ndarray:
        """P(the sentence carries a skill) for each row of sentence vectors ``E``."""
        return 1.0 / (1.0 + np.exp(-(E @ self.coef + self.bias)))

    def keeps(self, E: np.ndarray) -> np.ndarray:
        return self.probability(E) >= self.threshold

    def save(self, folder: str | Path) -> None:
        data = {"coef": [round(float(c), 6) for c in self.coef], "bias": self.bias, "threshold": self.threshold,
                "metrics": self.metrics}
        (Path(folder) / GATE_FILE).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> SentenceGate | None:
        path = Path(folder) / GATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(np.asarray(data["coef"], dtype=np.float32), float(data["bias"]), float(data["threshold"]),
                   data.get("metrics", {}))


def skillspan_sentences(split: str, data_dir: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """SkillSpan sentences of one split (tokens joined by a space) and whether each holds a span."""
    from common.data.skillspan import load_skillspan

    texts, labels = [], []
    for posting in load_skillspan(split, Path(data_dir) if data_dir is not None else None):
        for sent in posting.sentences:
            if sent.tokens:
                texts.append(" ".join(sent.tokens))
                labels.append(any(t != "O" for tags in sent.tags.values() for t in (tags or [])))
    return texts, np.asarray(labels, dtype=bool)


def fit_gate(linker: Any, recall: float = 0.95, data_dir: str | Path | None = None,
             progress: bool = False, limit: int | None = None) -> SentenceGate:
    """Fit on SkillSpan train, choose the threshold on SkillSpan dev (keep ``recall`` of its
    skill-bearing sentences), and record the dev figures; ``limit``: the first sentences of each
    split only (quick builds, tests)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    enc = linker.sentence_encoder()
    X, y = skillspan_sentences("train", data_dir)
    Xd, yd = skillspan_sentences("dev", data_dir)
    if limit:
        X, y, Xd, yd = X[:limit], y[:limit], Xd[:limit], yd[:limit]
    E, Ed = enc.encode(X, progress=progress), enc.encode(Xd, progress=progress)
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(E, y)
    p = clf.predict_proba(Ed)[:, 1]
    threshold = float(np.quantile(p[yd], 1.0 - recall)) if yd.any() else 0.5
    keep = p >= threshold
    metrics = {"train_sentences": len(X), "dev_sentences": len(Xd), "dev_auc": round(float(roc_auc_score(yd, p)), 4),
               "dev_recall": round(float(keep[yd].mean()), 4),
               "dev_dropped_without_span": round(float((~keep[~yd]).mean()), 4) if (~yd).any() else None}
    return SentenceGate(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), round(threshold, 6), metrics)


def fit_skill_filters(linker: Any, progress: bool = False) -> dict[str, float]:
    """At the end of a linker build: the skills' hub levels when ``skills.hub_weight`` asks for them
    (``common.linking.hubness``), and the sentence gate when ``skills.gate`` does and the linker has
    its retriever (the gate reads the retriever's vectors). Returns the seconds each took."""
    from common.data.skillspan import DataMissingError
    from common.linking.hubness import background_levels, background_sentences

    cfg, timings = linker.cfg, {}
    background = background_sentences(cfg.hub_background, cfg.seed) if cfg.skills.hub_weight and cfg.hub_background else []
    if background:
        t = time.perf_counter()
        linker.hub_levels = background_levels(linker, background, progress=progress)
        timings["hub_levels"] = time.perf_counter() - t
    if cfg.skills.gate and linker.retriever is not None:
        t = time.perf_counter()
        try:
            linker.sentence_gate = fit_gate(linker, progress=progress)
            linker.metrics["sentence_gate"] = linker.sentence_gate.metrics
        except DataMissingError as err:
            logger.warning("no sentence gate (%s): every sentence may imply skills", err)
        timings["sentence_gate"] = time.perf_counter() - t
    return timings
