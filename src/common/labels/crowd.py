"""Merge labels from several annotators into one training set, and measure the annotators.

Two kinds of crowd labels reach the platform:

* **Keyword spans** over posting tokens (SkillSpan's two BIO layers, one set per annotator).
  crowd-kit has no aggregator for token spans (its ``texts`` module aggregates whole strings,
  ``image_segmentation`` pixel masks), so the span method here is written for the job:
  candidate spans are pooled per sentence and type, a representative boundary is chosen for
  each region by reliability-weighted voting, and whether a keyword exists there at all is a
  binary task per region decided by Dawid-Skene (each annotator gets a 2x2 confusion matrix,
  so an annotator who misses spans but never invents them is treated differently from a
  spammer; vectorised here, checked against crowd-kit's ``DawidSkene``). Boundary
  reliabilities and the Dawid-Skene posteriors are re-estimated in a few rounds. Gold
  questions (documents with known spans) pin the posteriors of their regions and seed the
  reliabilities.
* **Skill groups** (one ESCO group code per skill and annotator): one-coin Dawid-Skene
  (per-annotator accuracy; vectorised here, checked against crowd-kit's implementation), with
  crowd-kit's full Dawid-Skene and majority vote as alternatives and baselines.

Everything works on pandas frames so that the storage layer can keep the raw labels by
annotator and the merged ones as Parquet/DuckDB tables.

Span frame columns: ``doc_id, sent, type, start, end, annotator`` (token offsets, ``end``
exclusive). Assignment frame: ``doc_id, annotator`` — who labelled which document; an
annotator who labelled a document and marked nothing there still votes "no keyword here".
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from common.core.config import StrictModel

from common.text.spans import bio_to_spans, char_spans_to_tokens, spans_to_bio, whitespace_tokens
from common.core.types import KEYWORD_TYPES, Posting, Sentence

SPAN_COLUMNS = ["doc_id", "sent", "type", "start", "end", "annotator"]
MERGED_COLUMNS = ["doc_id", "sent", "type", "start", "end", "confidence"]
_EPS = 1e-6

Unit = tuple[str, int, str]  # (doc_id, sentence index, keyword type)


class MergeConfig(StrictModel):
    """How crowd labels are merged (YAML-loadable as the ``merge`` stage config)."""

    span_method: Literal["weighted", "majority", "token_majority"] = "weighted"
    group_method: Literal["one_coin", "dawid_skene", "majority"] = "one_coin"
    rounds: int = Field(4, ge=1, description="Outer rounds: boundary choice <-> Dawid-Skene presence.")
    ds_iters: int = Field(100, ge=1, description="EM iterations of crowd-kit's Dawid-Skene per round.")
    threshold: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="Posterior above which a span region is kept (F1 is maximised near F1*/2, not at 0.5).",
    )
    prior_strength: float = Field(2.0, ge=0, description="Beta prior (pseudo-counts) on boundary accuracy.")
    min_youden: float = Field(
        0.05,
        description="Annotators whose Dawid-Skene sensitivity + specificity - 1 is at most this are spammers.",
    )
    feedback_weight: float = Field(
        1.0, ge=0, le=1, description="Confidence given to spans from documents labelled by one person only."
    )


@dataclass
class SpanCrowd:
    """Span labels by annotator plus who labelled which document."""

    spans: pd.DataFrame
    assignments: pd.DataFrame

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> SpanCrowd:
        """Build from annotator-BIO records, SkillSpan's JSONL form plus ``doc_id``/``sent``/``annotator``.

        ``{"doc_id", "sent", "annotator", "tags_skill": [...], "tags_knowledge": [...]}``.
        """
        rows: list[tuple] = []
        seen: set[tuple[str, str]] = set()
        for rec in records:
            doc, sent, ann = str(rec["doc_id"]), int(rec["sent"]), str(rec["annotator"])
            seen.add((doc, ann))
            for ktype in KEYWORD_TYPES:
                tags = rec.get(f"tags_{ktype.lower()}") or []
                for s, e, _ in bio_to_spans(tags, ktype):
                    rows.append((doc, sent, ktype, s, e, ann))
        return cls(
            spans=pd.DataFrame(rows, columns=SPAN_COLUMNS),
            assignments=pd.DataFrame(sorted(seen), columns=["doc_id", "annotator"]),
        )

    def to_records(self, postings: Sequence[Posting]) -> list[dict[str, Any]]:
        """Annotator-BIO records (inverse of ``from_records``) for the given postings."""
        by_doc = {p.doc_id: p for p in postings}
        grouped = {k: g for k, g in self.spans.groupby(["doc_id", "annotator"])}
        out = []
        for doc, ann in self.assignments.itertuples(index=False):
            post = by_doc.get(doc)
            if post is None:
                continue
            g = grouped.get((doc, ann))
            for si, sent in enumerate(post.sentences):
                rec: dict[str, Any] = {"doc_id": doc, "sent": si, "annotator": ann}
                for ktype in KEYWORD_TYPES:
                    sp = []
                    if g is not None:
                        sel = g[(g["sent"] == si) & (g["type"] == ktype)]
                        sp = [(int(r.start), int(r.end), ktype) for r in sel.itertuples()]
                    rec[f"tags_{ktype.lower()}"] = spans_to_bio(_non_overlapping(sp), len(sent.tokens))
                out.append(rec)
        return out

    @property
    def annotators(self) -> list[str]:
        return sorted(self.assignments["annotator"].unique())

    def subset(self, doc_ids: Iterable[str]) -> SpanCrowd:
        keep = set(doc_ids)
        return SpanCrowd(
            spans=self.spans[self.spans["doc_id"].isin(keep)].reset_index(drop=True),
            assignments=self.assignments[self.assignments["doc_id"].isin(keep)].reset_index(drop=True),
        )

    def concat(self, other: SpanCrowd) -> SpanCrowd:
        return SpanCrowd(
            spans=pd.concat([self.spans, other.spans], ignore_index=True),
            assignments=pd.concat([self.assignments, other.assignments], ignore_index=True).drop_duplicates(),
        )


@dataclass
class SpanMerge:
    """Merged spans, per-annotator quality and agreement figures."""

    spans: pd.DataFrame
    annotators: pd.DataFrame
    agreement: dict[str, float] = field(default_factory=dict)


def _non_overlapping(spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop spans overlapping an earlier, longer-or-equal one so BIO can hold them."""
    kept: list[tuple[int, int, str]] = []
    for s, e, t in sorted(spans, key=lambda x: (-(x[1] - x[0]), x[0])):
        if all(e <= ks or s >= ke for ks, ke, _ in kept):
            kept.append((s, e, t))
    return sorted(kept)


def gold_span_frame(postings: Sequence[Posting], annotator: str = "gold") -> pd.DataFrame:
    """The gold spans of postings as a span frame (used for evaluation and gold questions)."""
    rows = []
    for p in postings:
        for si, sent in enumerate(p.sentences):
            for ktype in KEYWORD_TYPES:
                for s, e, _ in bio_to_spans(sent.tags.get(ktype) or [], ktype):
                    rows.append((p.doc_id, si, ktype, s, e, annotator))
    return pd.DataFrame(rows, columns=SPAN_COLUMNS)


def _keys(df: pd.DataFrame) -> set[tuple]:
    return set(zip(df["doc_id"], df["sent"], df["type"], df["start"], df["end"]))


def span_prf(
    pred: pd.DataFrame, gold: pd.DataFrame, doc_ids: Iterable[str] | None = None
) -> dict[str, float]:
    """Strict span precision/recall/F1 (exact boundaries and type), micro over all spans."""
    if doc_ids is not None:
        keep = set(doc_ids)
        pred = pred[pred["doc_id"].isin(keep)]
        gold = gold[gold["doc_id"].isin(keep)]
    p, g = _keys(pred), _keys(gold)
    tp = len(p & g)
    prec = tp / len(p) if p else 0.0
    rec = tp / len(g) if g else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "n_pred": len(p), "n_gold": len(g)}


def _units(spans: pd.DataFrame) -> dict[Unit, dict[tuple[int, int], set[str]]]:
    units: dict[Unit, dict[tuple[int, int], set[str]]] = defaultdict(dict)
    for doc, sent, ktype, s, e, ann in spans[SPAN_COLUMNS].itertuples(index=False):
        units[(doc, int(sent), ktype)].setdefault((int(s), int(e)), set()).add(ann)
    return units


def _voters(assignments: pd.DataFrame) -> dict[str, list[str]]:
    return {d: sorted(set(g)) for d, g in assignments.groupby("doc_id")["annotator"]}


def span_majority_vote(crowd: SpanCrowd) -> pd.DataFrame:
    """Baseline: keep an exact span when more than half of the document's annotators marked it."""
    voters = _voters(crowd.assignments)
    rows = []
    for (doc, sent, ktype), cands in _units(crowd.spans).items():
        n = max(len(voters.get(doc, [])), 1)
        for (s, e), anns in cands.items():
            if len(anns) / n > 0.5:
                rows.append((doc, sent, ktype, s, e, len(anns) / n))
    out = pd.DataFrame(rows, columns=MERGED_COLUMNS)
    return _drop_overlaps(out)


def token_majority_vote(crowd: SpanCrowd) -> pd.DataFrame:
    """Baseline: a token is inside a keyword when most annotators covered it; runs become spans.

    Per-token voting is what a BIO aggregator without span awareness does; it tends to glue
    neighbouring keywords together and to trim boundaries to the common core.
    """
    voters = _voters(crowd.assignments)
    rows = []
    for (doc, sent, ktype), cands in _units(crowd.spans).items():
        n = max(len(voters.get(doc, [])), 1)
        cover: dict[int, set[str]] = defaultdict(set)
        begins: dict[int, set[str]] = defaultdict(set)
        for (s, e), anns in cands.items():
            begins[s] |= anns
            for i in range(s, e):
                cover[i] |= anns
        inside = sorted(i for i, a in cover.items() if len(a) / n > 0.5)
        start = prev = None
        for i in inside + [None]:
            # a new span starts after a gap, or where most annotators put a B inside a run
            if i is None or prev is None or i != prev + 1 or len(begins.get(i, ())) / n > 0.5:
                if start is not None:
                    rows.append((doc, sent, ktype, start, prev + 1, 1.0))
                start = i
            prev = i
    return pd.DataFrame(rows, columns=MERGED_COLUMNS)


def _drop_overlaps(merged: pd.DataFrame) -> pd.DataFrame:
    """Within a sentence and type keep the most confident of overlapping spans (BIO cannot nest)."""
    if merged.empty:
        return merged
    keep = []
    for _, g in merged.groupby(["doc_id", "sent", "type"], sort=False):
        chosen: list[tuple[int, int]] = []
        for idx, r in g.sort_values(["confidence", "start"], ascending=[False, True]).iterrows():
            if all(r.end <= cs or r.start >= ce for cs, ce in chosen):
                chosen.append((r.start, r.end))
                keep.append(idx)
    return merged.loc[sorted(keep)].reset_index(drop=True)


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


def annotator_quality(crowd: SpanCrowd, reference: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: documents, spans, and strict P/R/F1 against ``reference`` on their documents."""
    rows = []
    for a in crowd.annotators:
        docs = set(crowd.assignments.loc[crowd.assignments["annotator"] == a, "doc_id"])
        mine = crowd.spans[crowd.spans["annotator"] == a]
        m = span_prf(mine, reference, docs)
        rows.append(
            {
                "annotator": a,
                "n_docs": len(docs),
                "n_spans": len(mine),
                "precision": m["precision"],
                "recall": m["recall"],
                "f1": m["f1"],
            }
        )
    return pd.DataFrame(rows)


def span_agreement(crowd: SpanCrowd) -> dict[str, float]:
    """Inter-annotator agreement on spans: mean pairwise strict and overlap F1 on shared documents.

    Pairwise F1 is the usual agreement figure for span annotation (kappa needs a fixed set of
    items, which spans do not have). Strict needs identical boundaries and type; overlap
    counts any overlap of the same type.
    """
    by_ann = {a: g for a, g in crowd.spans.groupby("annotator")}
    docs_of = {a: set(g) for a, g in crowd.assignments.groupby("annotator")["doc_id"]}
    strict, overlap, weights = [], [], []
    for a, b in itertools.combinations(sorted(docs_of), 2):
        shared = docs_of[a] & docs_of[b]
        if not shared:
            continue
        sa = by_ann.get(a, pd.DataFrame(columns=SPAN_COLUMNS))
        sb = by_ann.get(b, pd.DataFrame(columns=SPAN_COLUMNS))
        sa, sb = sa[sa["doc_id"].isin(shared)], sb[sb["doc_id"].isin(shared)]
        strict.append(span_prf(sa, sb)["f1"])
        overlap.append(_overlap_f1(sa, sb))
        weights.append(len(shared))
    if not weights:
        return {"pairwise_strict_f1": float("nan"), "pairwise_overlap_f1": float("nan"), "pairs": 0}
    tot = sum(weights)
    return {
        "pairwise_strict_f1": sum(s * w for s, w in zip(strict, weights)) / tot,
        "pairwise_overlap_f1": sum(s * w for s, w in zip(overlap, weights)) / tot,
        "pairs": len(weights),
    }


def _overlap_f1(a: pd.DataFrame, b: pd.DataFrame) -> float:
    ua, ub = _units(a), _units(b)

    def matched(x, y) -> int:
        n = 0
        for unit, cands in x.items():
            other = y.get(unit, {})
            n += sum(any(cs < e and ce > s for cs, ce in other) for s, e in cands)
        return n

    na, nb = sum(len(c) for c in ua.values()), sum(len(c) for c in ub.values())
    if not na or not nb:
        return 0.0
    p, r = matched(ua, ub) / na, matched(ub, ua) / nb
    return 2 * p * r / (p + r) if p + r else 0.0


def merged_postings(
    postings: Sequence[Posting], merged: pd.DataFrame, split: str | None = None
) -> list[Posting]:
    """Copies of ``postings`` whose BIO tags come from the merged spans (for training)."""
    by_unit = {k: g for k, g in merged.groupby(["doc_id", "sent", "type"])} if not merged.empty else {}
    out = []
    for p in postings:
        sents = []
        for si, s in enumerate(p.sentences):
            tags = {}
            for ktype in KEYWORD_TYPES:
                g = by_unit.get((p.doc_id, si, ktype))
                sp = [] if g is None else [(int(r.start), int(r.end), ktype) for r in g.itertuples()]
                tags[ktype] = spans_to_bio(_non_overlapping(sp), len(s.tokens))
            sents.append(Sentence(tokens=list(s.tokens), tags=tags))
        out.append(Posting(doc_id=p.doc_id, source=p.source, sentences=sents, split=split or p.split))
    return out


# --- user feedback ---------------------------------------------------------------------------


def feedback_doc_id(text: str) -> str:
    """Stable id of a feedback text, so that several people correcting one text are merged."""
    return "fb-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def feedback_to_crowd(records: Iterable[dict[str, Any]]) -> tuple[list[Posting], SpanCrowd, pd.DataFrame]:
    """Turn feedback records (``common.data.request_log``) into postings, span labels and group labels.

    The text is split into lines (sentences) and whitespace tokens, the way the services
    tokenise raw input; each corrected keyword's character span becomes a token span. A
    record without ``annotator`` counts as the anonymous annotator ``feedback``. Group
    feedback ``{skill: [codes]}`` becomes one categorical label per skill (the first code).
    """
    postings: dict[str, Posting] = {}
    span_rows, assign, group_rows = [], set(), []
    for rec in records:
        ann = str(rec.get("annotator") or "feedback")
        text = rec.get("text") or ""
        if text.strip():
            doc = feedback_doc_id(text)
            lines = text.split("\n")
            if doc not in postings:
                sents = []
                for line in lines:
                    toks, _ = whitespace_tokens(line)
                    sents.append(Sentence(tokens=toks, tags={k: ["O"] * len(toks) for k in KEYWORD_TYPES}))
                postings[doc] = Posting(doc_id=doc, source="feedback", sentences=sents, split="feedback")
            assign.add((doc, ann))
            base = 0
            for si, line in enumerate(lines):
                toks, offs = whitespace_tokens(line)
                offs = [(base + s, base + e) for s, e in offs]
                for kw in rec.get("keywords") or []:
                    ks, ke, kt = int(kw["start"]), int(kw["end"]), kw.get("type", "Skill")
                    if kt not in KEYWORD_TYPES or ke <= base or ks >= base + len(line):
                        continue
                    for s, e, t in char_spans_to_tokens([(ks, ke, kt)], offs):
                        span_rows.append((doc, si, t, s, e, ann))
                base += len(line) + 1
        for skill, codes in (rec.get("groups") or {}).items():
            if codes:
                group_rows.append((str(skill), ann, str(codes[0] if isinstance(codes, list) else codes)))
    crowd = SpanCrowd(
        spans=pd.DataFrame(span_rows, columns=SPAN_COLUMNS).drop_duplicates(),
        assignments=pd.DataFrame(sorted(assign), columns=["doc_id", "annotator"]),
    )
    return list(postings.values()), crowd, pd.DataFrame(group_rows, columns=["task", "worker", "label"])


# --- skill groups ----------------------------------------------------------------------------


@dataclass
class GroupMerge:
    """Merged group label per skill with its posterior, per-annotator accuracy, agreement."""

    labels: pd.DataFrame  # task, label, confidence
    annotators: pd.DataFrame  # annotator, n_labels, agreement_with_merged, estimated_accuracy
    agreement: dict[str, float] = field(default_factory=dict)


def one_coin_dawid_skene(
    labels: pd.DataFrame, n_iter: int = 100, tol: float = 1e-7, gold: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """One-coin Dawid-Skene: one accuracy per annotator, errors spread evenly over other classes.

    The same model as crowd-kit's ``OneCoinDawidSkene`` (Zhang et al., JMLR 2016), vectorised
    with numpy: crowd-kit's version applies a Python function to every row of every
    annotator's confusion matrix each iteration and needs 1.5-3 minutes for ~1,300 skills and
    130 groups, while this takes well under a second (``tests/unit/test_crowd.py`` checks the
    two agree). The full Dawid-Skene confusion matrix (crowd-kit's ``DawidSkene``) has K*K
    parameters per annotator; with 129 ESCO level-2 groups it overfits and does worse than
    majority vote, so the one-coin model is the default for groups.

    Returns ``(probas, skills)``: posterior per task and class, accuracy per annotator.
    """
    import numpy as np

    t_idx, tasks = pd.factorize(labels["task"])
    w_idx, workers = pd.factorize(labels["worker"])
    l_idx, classes = pd.factorize(labels["label"])
    n_t, n_w, k = len(tasks), len(workers), len(classes)
    post = np.zeros((n_t, k))
    np.add.at(post, (t_idx, l_idx), 1.0)  # majority-vote start
    fixed = None
    if gold:
        cls_pos = {c: i for i, c in enumerate(classes)}
        fixed = [(ti, cls_pos[gold[t]]) for ti, t in enumerate(tasks) if t in gold and gold[t] in cls_pos]
    post /= post.sum(1, keepdims=True)
    prev = -np.inf
    skills = np.full(n_w, 0.5)
    for _ in range(n_iter):
        if fixed:
            for ti, ci in fixed:
                post[ti] = 0.0
                post[ti, ci] = 1.0
        # M-step: expected accuracy of each annotator, class priors
        hit = post[t_idx, l_idx]
        skills = np.bincount(w_idx, weights=hit, minlength=n_w) / np.bincount(w_idx, minlength=n_w)
        skills = np.clip(skills, 1e-6, 1 - 1e-6)
        priors = np.clip(post.mean(0), 1e-12, None)
        # E-step: log posterior = log prior + sum over answers
        wrong = np.log((1 - skills) / max(k - 1, 1))
        logp = np.tile(np.log(priors), (n_t, 1))
        np.add.at(logp, t_idx, wrong[w_idx][:, None])
        np.add.at(logp, (t_idx, l_idx), np.log(skills)[w_idx] - wrong[w_idx])
        logp -= logp.max(1, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(1, keepdims=True)
        ll = float(np.sum(post[t_idx, l_idx]))
        if abs(ll - prev) < tol:
            break
        prev = ll
    return (
        pd.DataFrame(post, index=pd.Index(tasks, name="task"), columns=pd.Index(classes, name="label")),
        pd.Series(skills, index=pd.Index(workers, name="worker"), name="skill"),
    )


def merge_groups(
    labels: pd.DataFrame, method: str = "one_coin", gold: Mapping[str, str] | None = None, n_iter: int = 100
) -> GroupMerge:
    """Merge categorical group labels (``task, worker, label``).

    ``method``: ``one_coin`` (default, see ``one_coin_dawid_skene``), ``dawid_skene``
    (crowd-kit, full confusion matrices: good with few classes and many labels per annotator)
    or ``majority``. ``gold`` (label per task for some tasks) acts as gold questions.
    """
    from crowdkit.aggregation import DawidSkene, MajorityVote

    labels = labels[["task", "worker", "label"]].astype({"task": str, "worker": str, "label": str})
    if labels.empty:
        return GroupMerge(pd.DataFrame(columns=["task", "label", "confidence"]), pd.DataFrame(), {})
    skills = None
    if method == "majority":
        probas = MajorityVote().fit_predict_proba(labels)
    elif method == "dawid_skene":
        agg = DawidSkene(n_iter=n_iter)
        agg.fit(labels, true_labels=pd.Series(dict(gold)) if gold else None)
        probas = agg.probas_
    elif method == "one_coin":
        probas, skills = one_coin_dawid_skene(labels, n_iter=n_iter, gold=gold)
    else:
        raise ValueError(f"unknown group merge method {method!r}; use one_coin, dawid_skene or majority")
    best = probas.idxmax(axis=1)
    merged = pd.DataFrame(
        {"task": probas.index.astype(str), "label": best.values, "confidence": probas.max(axis=1).values}
    )
    ref = dict(zip(merged["task"], merged["label"]))
    ann = (
        labels.assign(ok=[ref.get(t) == lab for t, lab in zip(labels["task"], labels["label"])])
        .groupby("worker")
        .agg(n_labels=("ok", "size"), agreement_with_merged=("ok", "mean"))
        .reset_index()
        .rename(columns={"worker": "annotator"})
    )
    if skills is not None:
        ann["estimated_accuracy"] = ann["annotator"].map(skills.to_dict())
    return GroupMerge(merged, ann, group_agreement(labels))


def group_agreement(labels: pd.DataFrame) -> dict[str, float]:
    """Krippendorff's alpha (crowd-kit) and raw pairwise agreement on skills labelled by 2+ people."""
    from crowdkit.metrics.data import alpha_krippendorff

    multi = labels.groupby("task").filter(lambda g: len(g) > 1)
    if multi.empty:
        return {"alpha": float("nan"), "pairwise_agreement": float("nan")}
    agree, total = 0, 0
    for _, g in multi.groupby("task"):
        for a, b in itertools.combinations(list(g["label"]), 2):
            agree += a == b
            total += 1
    return {
        "alpha": alpha_krippendorff(multi),
        "pairwise_agreement": agree / total if total else float("nan"),
    }


def group_accuracy(merged: pd.DataFrame, gold: dict[str, set[str]]) -> float:
    """Share of skills whose merged label is one of the skill's gold groups (ESCO is multi-label)."""
    rows = [(t, lab) for t, lab in zip(merged["task"], merged["label"]) if t in gold]
    return sum(lab in gold[t] for t, lab in rows) / len(rows) if rows else 0.0
