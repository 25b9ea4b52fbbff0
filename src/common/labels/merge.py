"""The merge-labels stage on stored data: labels by annotator in, merged labels and reports out.

Glue between the store's ``labels`` table (``common.data.storage``), user feedback JSONL
(``common.data.request_log``) and the merging methods (``common.labels.span_merge``, ``common.labels.groups``):

* span labels (``kind="span"``, one row per annotator and sentence with tokens and both BIO
  layers) become a ``SpanCrowd``; labels from the annotator ``gold`` (or ``source="gold"``,
  e.g. SkillSpan's own tags) are the truth for their documents and serve as gold questions
  for the crowd annotators who labelled the same documents;
* group labels (``kind="group"``) are merged per skill;
* feedback corrections join as extra annotators (their documents are keyed by text hash).

``training_sets`` then rebuilds train/dev postings from the merged labels, which is what the
train stage reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from common.core.types import KEYWORD_TYPES, Posting, Sentence
from common.labels.config import MergeConfig
from common.labels.spans import SpanCrowd
from common.labels.feedback import feedback_to_crowd
from common.labels.groups import merge_groups
from common.labels.span_merge import merge_spans
from common.labels.quality import merged_postings

GOLD = "gold"


@dataclass
class MergeOutcome:
    """What the merge produced: records for the store, and reports for people."""

    span_records: list[dict[str, Any]] = field(default_factory=list)
    group_records: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    span_annotators: pd.DataFrame | None = None
    group_annotators: pd.DataFrame | None = None

    def save_reports(self, out_dir: Path) -> dict[str, Path]:
        """Write ``merge.json`` and the per-annotator CSVs into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"report": out_dir / "merge.json"}
        paths["report"].write_text(json.dumps(self.report, indent=2, default=str), encoding="utf-8")
        if self.span_annotators is not None and len(self.span_annotators):
            paths["span_annotators"] = out_dir / "span_annotators.csv"
            self.span_annotators.to_csv(paths["span_annotators"], index=False)
        if self.group_annotators is not None and len(self.group_annotators):
            paths["group_annotators"] = out_dir / "group_annotators.csv"
            self.group_annotators.to_csv(paths["group_annotators"], index=False)
        return paths


def _is_gold(row: Any) -> bool:
    return str(row["annotator"]) == GOLD or str(row.get("source") or "") == GOLD


def span_labels_to_crowd(labels: pd.DataFrame) -> tuple[dict[str, Posting], SpanCrowd, SpanCrowd]:
    """Stored span labels -> (postings by doc id, crowd labels, gold labels as a one-annotator crowd)."""
    sentences: dict[str, dict[int, list[str]]] = defaultdict(dict)
    crowd_recs, gold_recs = [], []
    for row in labels.to_dict(orient="records"):
        value = row["value"] or {}
        tokens = list(value.get("tokens") or [])
        tags = value.get("tags") or {}
        sent = int(row["item"])
        sentences[row["doc_id"]].setdefault(sent, tokens)
        rec = {
            "doc_id": row["doc_id"],
            "sent": sent,
            "annotator": row["annotator"],
            **{f"tags_{k.lower()}": list(tags.get(k) or ["O"] * len(tokens)) for k in KEYWORD_TYPES},
        }
        (gold_recs if _is_gold(row) else crowd_recs).append(rec)
    postings = {}
    for doc, sents in sentences.items():
        n = max(sents) + 1
        postings[doc] = Posting(
            doc_id=doc,
            source="",
            split="",
            sentences=[
                Sentence(
                    tokens=sents.get(i, []), tags={k: ["O"] * len(sents.get(i, [])) for k in KEYWORD_TYPES}
                )
                for i in range(n)
            ],
        )
    return postings, SpanCrowd.from_records(crowd_recs), SpanCrowd.from_records(gold_recs)


def _span_records(
    postings: list[Posting], merged: pd.DataFrame, method: str, n_ann: dict[str, int], run_id: str | None
) -> list[dict[str, Any]]:
    conf = defaultdict(list)
    for r in merged.itertuples(index=False):
        conf[(r.doc_id, int(r.sent))].append(float(r.confidence))
    out = []
    for p in merged_postings(postings, merged):
        for i, s in enumerate(p.sentences):
            c = conf.get((p.doc_id, i))
            out.append(
                {
                    "kind": "span",
                    "doc_id": p.doc_id,
                    "item": str(i),
                    "value": {"tokens": s.tokens, "tags": s.tags},
                    "confidence": min(c) if c else 1.0,
                    "method": method,
                    "n_annotators": n_ann.get(p.doc_id, 1),
                    "run_id": run_id,
                }
            )
    return out


def merge_store_labels(
    labels: pd.DataFrame,
    cfg: MergeConfig | None = None,
    feedback: list[dict[str, Any]] | None = None,
    run_id: str | None = None,
) -> MergeOutcome:
    """Merge stored labels (``Store.labels(status="valid")``) plus feedback records."""
    cfg = cfg or MergeConfig()
    out = MergeOutcome()
    report: dict[str, Any] = {"config": cfg.model_dump()}
    spans = labels[labels["kind"] == "span"] if len(labels) else labels
    groups = labels[labels["kind"] == "group"] if len(labels) else labels

    postings, crowd, gold = (
        span_labels_to_crowd(spans)
        if len(spans)
        else ({}, SpanCrowd.from_records([]), SpanCrowd.from_records([]))
    )
    fb_groups = pd.DataFrame(columns=["task", "worker", "label"])
    if feedback:
        fb_posts, fb_crowd, fb_groups = feedback_to_crowd(feedback)
        for p in fb_posts:
            postings.setdefault(p.doc_id, p)
        crowd = crowd.concat(fb_crowd)
        report["feedback"] = {
            "records": len(feedback),
            "documents": len(fb_posts),
            "group_labels": len(fb_groups),
        }

    gold_docs = set(gold.assignments["doc_id"])
    crowd_docs = set(crowd.assignments["doc_id"]) - gold_docs
    n_ann = crowd.assignments.groupby("doc_id")["annotator"].nunique().to_dict()
    if gold_docs:
        gp = [postings[d] for d in sorted(gold_docs)]
        out.span_records += _span_records(gp, gold.spans.assign(confidence=1.0), "gold", {}, run_id)
    if crowd_docs:
        gold_q = gold.spans[gold.spans["doc_id"].isin(set(crowd.assignments["doc_id"]))]
        res = merge_spans(crowd, cfg, gold=gold_q if len(gold_q) else None)
        merged = res.spans[res.spans["doc_id"].isin(crowd_docs)]
        cp = [postings[d] for d in sorted(crowd_docs)]
        out.span_records += _span_records(cp, merged, f"spans:{cfg.span_method}", n_ann, run_id)
        out.span_annotators = res.annotators
        report["spans"] = {
            "crowd_documents": len(crowd_docs),
            "gold_documents": len(gold_docs),
            "gold_question_documents": int(gold_q["doc_id"].nunique()) if len(gold_q) else 0,
            "annotators": len(crowd.annotators),
            "merged_spans": int(len(merged)),
            "agreement": res.agreement,
            "spammers": sorted(res.annotators.loc[res.annotators["spammer"].astype(bool), "annotator"])
            if "spammer" in res.annotators
            else [],
        }
    else:
        report["spans"] = {"crowd_documents": 0, "gold_documents": len(gold_docs)}

    g_rows = []
    gold_groups: dict[str, str] = {}
    skill_of: dict[str, str] = {}
    for row in groups.to_dict(orient="records") if len(groups) else []:
        value = row["value"] or {}
        codes = value.get("groups") or []
        if not codes:
            continue
        skill = str(value.get("skill") or row.get("item") or row["doc_id"])
        skill_of[skill] = row["doc_id"]
        if _is_gold(row):
            gold_groups[skill] = str(codes[0])
        else:
            g_rows.append((skill, row["annotator"], str(codes[0])))
    gl = pd.concat([pd.DataFrame(g_rows, columns=["task", "worker", "label"]), fb_groups], ignore_index=True)
    if len(gl):
        gm = merge_groups(gl, cfg.group_method, gold=gold_groups or None)
        n_g = gl.groupby("task")["worker"].nunique().to_dict()
        for r in gm.labels.itertuples(index=False):
            out.group_records.append(
                {
                    "kind": "group",
                    "doc_id": skill_of.get(r.task, r.task),
                    "item": r.task,
                    "value": {"skill": r.task, "groups": [r.label], "level": 2},
                    "confidence": float(r.confidence),
                    "method": f"groups:{cfg.group_method}",
                    "n_annotators": int(n_g.get(r.task, 1)),
                    "run_id": run_id,
                }
            )
        out.group_annotators = gm.annotators
        report["groups"] = {
            "skills": int(gl["task"].nunique()),
            "annotators": int(gl["worker"].nunique()),
            "agreement": gm.agreement,
        }
    report["span_records"] = len(out.span_records)
    report["group_records"] = len(out.group_records)
    out.report = report
    return out


def training_sets(
    merged: pd.DataFrame, postings: pd.DataFrame | None = None
) -> tuple[list[Posting], list[Posting]]:
    """Train and dev postings rebuilt from merged span labels.

    A document is dev when the postings table says ``split == "dev"``; everything else
    (including feedback documents, which are not postings) is train.
    """
    split_of: dict[str, str] = {}
    source_of: dict[str, str] = {}
    if postings is not None and len(postings):
        split_of = dict(zip(postings["posting_id"], postings["split"].fillna("")))
        source_of = dict(zip(postings["posting_id"], postings["source"].fillna("")))
    spans = merged[merged["kind"] == "span"] if len(merged) else merged
    docs: dict[str, dict[int, Sentence]] = defaultdict(dict)
    for row in spans.to_dict(orient="records") if len(spans) else []:
        v = row["value"] or {}
        docs[row["doc_id"]][int(row["item"])] = Sentence(
            tokens=list(v.get("tokens") or []), tags={k: list(t) for k, t in (v.get("tags") or {}).items()}
        )
    train, dev = [], []
    for doc in sorted(docs):
        sents = [docs[doc][i] for i in sorted(docs[doc])]
        split = split_of.get(doc) or "train"
        p = Posting(
            doc_id=doc,
            source=source_of.get(doc) or ("feedback" if doc.startswith("fb-") else ""),
            sentences=sents,
            split="dev" if split == "dev" else "train",
        )
        (dev if p.split == "dev" else train).append(p)
    return train, dev


def merged_group_frame(merged: pd.DataFrame) -> pd.DataFrame:
    """Merged group labels as ``label, groups_l2`` rows (to add to the classifier's training skills)."""
    rows = []
    g = merged[merged["kind"] == "group"] if len(merged) else merged
    for row in g.to_dict(orient="records") if len(g) else []:
        v = row["value"] or {}
        rows.append(
            {
                "uri": row["doc_id"],
                "label": v.get("skill") or row["item"],
                "groups_l2": list(v.get("groups") or []),
            }
        )
    return pd.DataFrame(rows, columns=["uri", "label", "groups_l2"])


def group_training_frames(merged: Any, crowd_groups: str = "union") -> tuple[Any, Any, Any]:
    """ESCO train/dev/groups frames; with ``crowd_groups="union"`` the merged crowd group labels
    are added to train (a skill that is in ESCO dev never trains)."""
    from common.data import esco

    train_df, dev_df, groups_df = esco.load_skills("train"), esco.load_skills("dev"), esco.load_groups()
    if crowd_groups == "union":
        train_df = add_crowd_groups(train_df, merged_group_frame(merged), set(dev_df["label"]), groups_df)
    return train_df, dev_df, groups_df


def add_crowd_groups(train_df: Any, crowd: Any, dev_labels: set[str], groups_df: Any) -> Any:
    """``train_df`` with the crowd's level-2 codes (and their parents) merged into known skills
    and the crowd's other skills appended; codes outside the taxonomy are ignored."""
    crowd = crowd[~crowd["label"].isin(dev_labels)]
    parent = dict(zip(groups_df["code"], groups_df["parent_code"]))
    by_label = {lab: i for i, lab in enumerate(train_df["label"])}
    extra = []
    for r in crowd.itertuples(index=False):
        codes = [c for c in r.groups_l2 if c in parent]
        if not codes:
            continue
        if r.label in by_label:
            i = by_label[r.label]
            train_df.at[i, "groups_l2"] = list(dict.fromkeys(list(train_df.at[i, "groups_l2"]) + codes))
            train_df.at[i, "groups_l1"] = list(dict.fromkeys(list(train_df.at[i, "groups_l1"]) + [parent[c] for c in codes]))
        else:
            extra.append({"uri": r.uri, "label": r.label, "text": r.label, "pillar": "",
                          "groups_l1": list(dict.fromkeys(parent[c] for c in codes)), "groups_l2": codes})
    return pd.concat([train_df, pd.DataFrame(extra)], ignore_index=True) if extra else train_df
