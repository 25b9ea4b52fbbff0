"""Merging span labels: reliability-weighted boundaries, Dawid-Skene per region, gold questions.

The method (why crowd-kit has none for token spans, and how it works) is described in
``common.labels.spans``."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from common.labels.config import MergeConfig
from common.labels.quality import annotator_quality, span_agreement
from common.labels.spans import (
    MERGED_COLUMNS,
    SpanCrowd,
    Unit,
    _keys,
    _units,
    _voters,
    span_majority_vote,
    token_majority_vote,
)


@dataclass
class SpanMerge:
    """Merged spans, per-annotator quality and agreement figures."""

    spans: pd.DataFrame
    annotators: pd.DataFrame
    agreement: dict[str, float] = field(default_factory=dict)




def _initial_boundary_acc(
    crowd: SpanCrowd, units, gold: pd.DataFrame | None, prior: float
) -> dict[str, float]:
    """Seed boundary accuracy: exact agreement with gold questions when given, else with peers."""
    hit: dict[str, float] = defaultdict(float)
    tot: dict[str, float] = defaultdict(float)
    gold_keys = _keys(gold) if gold is not None and not gold.empty else None
    gold_docs = set(gold["doc_id"]) if gold_keys is not None else set()
    for (doc, sent, ktype), cands in units.items():
        for (s, e), anns in cands.items():
            for a in anns:
                if doc in gold_docs:
                    hit[a] += (doc, sent, ktype, s, e) in gold_keys
                    tot[a] += 1
                elif not gold_docs:
                    hit[a] += len(anns) > 1
                    tot[a] += 1
    return {a: (hit[a] + prior * 0.5) / (tot[a] + prior) for a in crowd.annotators}


def _logit(p: float) -> float:
    p = min(max(p, 0.02), 0.98)
    return math.log(p / (1 - p))


def binary_dawid_skene(
    table: pd.DataFrame,
    n_iter: int = 100,
    tol: float = 1e-6,
    truth: Mapping[Any, int] | None = None,
    smoothing: float = 0.5,
) -> tuple[pd.Series, pd.DataFrame]:
    """Two-class Dawid-Skene (a sensitivity and a specificity per annotator), vectorised.

    The same model as crowd-kit's ``DawidSkene`` restricted to yes/no items, written with numpy
    because crowd-kit's pandas implementation needs about 0.1 s per EM iteration whatever the
    data size, and the span merge runs EM once per round (``tests/unit/test_crowd.py`` checks
    the two agree). ``smoothing`` adds pseudo-counts to each confusion cell, which keeps an
    annotator seen on few items from getting a certain 0 or 1. ``truth`` fixes the posterior
    of gold items. Returns ``(P(yes) per task, frame of sensitivity/specificity per worker)``.
    """
    import numpy as np

    t_idx, tasks = pd.factorize(table["task"])
    w_idx, workers = pd.factorize(table["worker"])
    y = table["label"].to_numpy().astype(float)
    n_t, n_w = len(tasks), len(workers)
    votes = np.bincount(t_idx, minlength=n_t)
    p = np.bincount(t_idx, weights=y, minlength=n_t) / np.maximum(votes, 1)  # majority-vote start
    fixed = None
    if truth:
        pos = {t: i for i, t in enumerate(tasks)}
        fixed = np.array([pos[t] for t in truth if t in pos], dtype=int)
        fixed_val = np.array([float(truth[t]) for t in truth if t in pos])
    prev = None
    sens = spec = np.full(n_w, 0.5)
    for _ in range(n_iter):
        if fixed is not None and len(fixed):
            p[fixed] = fixed_val
        pi = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        pt = p[t_idx]
        sens = (np.bincount(w_idx, pt * y, n_w) + smoothing) / (np.bincount(w_idx, pt, n_w) + 2 * smoothing)
        spec = (np.bincount(w_idx, (1 - pt) * (1 - y), n_w) + smoothing) / (
            np.bincount(w_idx, 1 - pt, n_w) + 2 * smoothing
        )
        l1 = np.where(y == 1, np.log(sens[w_idx]), np.log(1 - sens[w_idx]))
        l0 = np.where(y == 1, np.log(1 - spec[w_idx]), np.log(spec[w_idx]))
        logit = np.log(pi / (1 - pi)) + np.bincount(t_idx, l1 - l0, n_t)
        p = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        if prev is not None and np.max(np.abs(p - prev)) < tol:
            break
        prev = p.copy()
    if fixed is not None and len(fixed):
        p[fixed] = fixed_val
    return (
        pd.Series(p, index=pd.Index(tasks, name="task"), name="p_yes"),
        pd.DataFrame({"sensitivity": sens, "specificity": spec}, index=pd.Index(workers, name="worker")),
    )


def _sens_spec(errors: pd.DataFrame, annotators: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """P(yes | keyword) and P(no | no keyword) per annotator."""
    sens = {w: float(errors.loc[w, "sensitivity"]) for w in annotators if w in errors.index}
    spec = {w: float(errors.loc[w, "specificity"]) for w in annotators if w in errors.index}
    return sens, spec


def _choose_boundaries(
    cands: dict[tuple[int, int], set[str]], weight: dict[str, float]
) -> list[tuple[int, int]]:
    """Non-overlapping region boundaries for one sentence and type.

    Regions are seeded greedily by the weighted support of exact spans; then the start and the
    end of each region are voted separately among all spans overlapping the seed. People who
    shift a span usually move one edge only, so two annotators who each got one edge right
    outvote a third who got both edges wrong, even when nobody marked the exact span.
    """

    def w(anns: set[str]) -> float:
        return sum(weight.get(a, 0.01) for a in anns)

    order = sorted(cands.items(), key=lambda kv: (-w(kv[1]), -len(kv[1]), kv[0][1] - kv[0][0], kv[0][0]))
    seeds: list[tuple[int, int]] = []
    for (s, e), _anns in order:
        if all(e <= cs or s >= ce for cs, ce in seeds):
            seeds.append((s, e))
    out: list[tuple[int, int]] = []
    for s, e in sorted(seeds):
        starts: dict[int, float] = defaultdict(float)
        ends: dict[int, float] = defaultdict(float)
        for (cs, ce), anns in cands.items():
            if cs < e and ce > s:
                starts[cs] += w(anns)
                ends[ce] += w(anns)
        ns = max(starts, key=lambda k: (starts[k], k == s))
        ne = max((k for k in ends if k > ns), key=lambda k: (ends[k], k == e), default=e)
        if out and ns < out[-1][1]:  # keep regions disjoint; fall back to the seed
            ns, ne = s, e
            if ns < out[-1][1]:
                continue
        out.append((ns, ne))
    return out


def merge_spans(
    crowd: SpanCrowd, config: MergeConfig | None = None, gold: pd.DataFrame | None = None
) -> SpanMerge:
    """Merge span labels by reliability-weighted boundary voting and Dawid-Skene presence.

    ``gold`` (a span frame) marks some documents as gold questions: their regions' presence is
    fixed to the truth during EM and they seed each annotator's boundary accuracy. Each round:
    choose each region's boundaries by weighted vote, estimate each region's presence with
    Dawid-Skene (dropping spammers after round one), keep the regions above the threshold, then
    re-estimate each annotator's boundary accuracy.
    """
    cfg = config or MergeConfig()
    if cfg.span_method == "majority":
        return SpanMerge(
            span_majority_vote(crowd),
            annotator_quality(crowd, span_majority_vote(crowd)),
            span_agreement(crowd),
        )
    if cfg.span_method == "token_majority":
        merged = token_majority_vote(crowd)
        return SpanMerge(merged, annotator_quality(crowd, merged), span_agreement(crowd))

    em = _SpanEM(crowd, cfg, gold)
    for rnd in range(cfg.rounds):
        reps = em.representatives()
        em.accepted = [(u, s, e, p) for (u, s, e), p in zip(reps, em.presence(reps, first=rnd == 0), strict=True)
                       if p > cfg.threshold]
        em.update_boundary_accuracy()
    return em.result()


class _SpanEM:
    """The state of the span merge across rounds (see ``merge_spans``)."""

    def __init__(self, crowd: SpanCrowd, cfg: MergeConfig, gold: pd.DataFrame | None) -> None:
        self.crowd, self.cfg = crowd, cfg
        self.units = _units(crowd.spans)
        self.voters = _voters(crowd.assignments)
        has_gold = gold is not None and not gold.empty
        self.gold_keys = _keys(gold) if has_gold else set()
        self.gold_docs = set(gold["doc_id"]) if has_gold else set()
        self.gold_units = _units(gold) if self.gold_docs else {}
        self.acc = _initial_boundary_acc(crowd, self.units, gold, cfg.prior_strength)
        self.accepted: list[tuple[Unit, int, int, float]] = []
        self.errors: Any = None
        self.spammers: set[str] = set()
        self.first_sens_spec: tuple[dict[str, float], dict[str, float]] = ({}, {})

    def representatives(self) -> list[tuple[Unit, int, int]]:
        """Each region's boundaries by reliability-weighted vote (spammers barely count)."""
        weight = {a: 0.01 if a in self.spammers else _logit(p) - _logit(0.0) + 0.01 for a, p in self.acc.items()}
        return [(unit, s, e) for unit, cands in self.units.items() for s, e in _choose_boundaries(cands, weight)]

    def _votes(self, reps: list[tuple[Unit, int, int]]) -> tuple[pd.DataFrame, dict[int, float], dict[int, int]]:
        """Presence votes (task, worker, label), the regions with a single voter (their prior),
        and the gold truth of regions in gold documents."""
        rows, single, truth = [], {}, {}
        for i, (unit, s, e) in enumerate(reps):
            doc = unit[0]
            yes = {a for (cs, ce), anns in self.units[unit].items() if cs < e and ce > s for a in anns} - self.spammers
            vs = [a for a in self.voters.get(doc) or sorted(yes) if a not in self.spammers]
            if len(vs) < 2 and len(self.voters.get(doc) or ()) < 2:
                single[i] = self.cfg.feedback_weight
                continue
            rows.extend((i, a, int(a in yes)) for a in vs)
            if doc in self.gold_docs:
                truth[i] = int(any(cs < e and ce > s for cs, ce in self.gold_units.get(unit, {})))
        return pd.DataFrame(rows, columns=["task", "worker", "label"]), single, truth

    def presence(self, reps: list[tuple[Unit, int, int]], first: bool) -> list[float]:
        """Posterior probability that each region is a keyword (binary Dawid-Skene)."""
        table, single, truth = self._votes(reps)
        post: dict[int, float] = dict(single)
        if not table.empty:
            if table["label"].nunique() == 1:  # EM needs both outcomes; unanimous crowds are trivial
                post.update({int(t): float(table["label"].iloc[0]) for t in table["task"].unique()})
            else:
                pr, self.errors = binary_dawid_skene(table, n_iter=self.cfg.ds_iters, truth=truth)
                post.update({int(t): float(v) for t, v in pr.items()})
                if first:
                    self._find_spammers()
        return [post.get(i, 0.0) for i in range(len(reps))]

    def _find_spammers(self) -> None:
        """An annotator whose "yes" is no likelier on real keywords than on empty regions
        (Youden's J <= min_youden) carries no information; worse, the regions only exist because
        someone marked them, so a spammer's "no" would read as evidence *for* a keyword. Their
        votes are dropped from later rounds, but the regions they proposed stay as items (so the
        others' specificity is still measured on a realistic pool of empty regions). Decided
        once, on the full crowd."""
        sens, spec = _sens_spec(self.errors, self.crowd.annotators)
        self.first_sens_spec = (sens, spec)
        self.spammers = {a for a in self.crowd.annotators
                         if a in sens and sens[a] + spec[a] - 1 <= self.cfg.min_youden}

    def update_boundary_accuracy(self) -> None:
        """M-step for boundaries: how often an annotator's overlapping span has the kept boundary
        (gold questions count double where they exist: the better judge of boundaries)."""
        hit: dict[str, float] = defaultdict(float)
        tot: dict[str, float] = defaultdict(float)
        for unit, s, e, _p in self.accepted:
            for (cs, ce), anns in self.units[unit].items():
                if cs < e and ce > s:
                    for a in anns:
                        tot[a] += 1
                        hit[a] += (cs, ce) == (s, e)
        for unit, cands in self.units.items():
            if unit[0] in self.gold_docs:
                for (cs, ce), anns in cands.items():
                    ok = (unit[0], unit[1], unit[2], cs, ce) in self.gold_keys
                    for a in anns:
                        tot[a] += 2
                        hit[a] += 2 * ok
        prior = self.cfg.prior_strength
        self.acc = {a: (hit[a] + prior * 0.5) / (tot[a] + prior) for a in self.crowd.annotators}

    def result(self) -> SpanMerge:
        """The merged spans and each annotator's quality (boundary accuracy, sensitivity, specificity)."""
        crowd = self.crowd
        merged = pd.DataFrame([(u[0], u[1], u[2], s, e, round(p, 4)) for u, s, e, p in self.accepted],
                              columns=MERGED_COLUMNS)
        quality = annotator_quality(crowd, merged)
        quality["boundary_acc"] = quality["annotator"].map(self.acc)
        if self.errors is not None:
            sens, spec = _sens_spec(self.errors, crowd.annotators)
            sens = {**self.first_sens_spec[0], **sens}  # spammers' votes left EM after round one
            spec = {**self.first_sens_spec[1], **spec}
            quality["sensitivity"] = quality["annotator"].map(sens)
            quality["specificity"] = quality["annotator"].map(spec)
        quality["spammer"] = quality["annotator"].isin(self.spammers)
        return SpanMerge(merged, quality, span_agreement(crowd))
