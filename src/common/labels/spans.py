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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from common.core.types import KEYWORD_TYPES, Posting
from common.text.spans import bio_to_spans, spans_to_bio

SPAN_COLUMNS = ["doc_id", "sent", "type", "start", "end", "annotator"]
MERGED_COLUMNS = ["doc_id", "sent", "type", "start", "end", "confidence"]
_EPS = 1e-6

Unit = tuple[str, int, str]  # (doc_id, sentence index, keyword type)



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
