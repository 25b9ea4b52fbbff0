"""How good the crowd is: per-annotator quality against a reference, span agreement, and the
merged spans written back into training postings."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from common.core.types import KEYWORD_TYPES, Posting, Sentence
from common.labels.spans import SPAN_COLUMNS, SpanCrowd, _non_overlapping, _units, span_prf
from common.text.spans import spans_to_bio


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
