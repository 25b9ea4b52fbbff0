"""Scoring keyword predictions against SkillSpan gold spans.

Two views, because two kinds of systems are compared:

* **span level** (the primary metric): predicted keywords (character spans over
  ``posting_text``) are mapped back to whitespace tokens, turned into one BIO sequence per
  sentence and layer, and scored with seqeval in strict IOB2 mode - exact boundaries and type.
  Skill and Knowledge are separate layers (they may overlap); "overall" is the micro average
  over both layers, i.e. every Skill and every Knowledge span counts once.
* **document level**: each posting's keyword *set* (normalised strings, type ignored) against
  the gold set, micro-averaged over postings (macro F1 given too). This is the fair view for
  unsupervised extractors (TF-IDF, YAKE, KeyBERT) that rank phrases rather than tag tokens.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.core.types import KEYWORD_TYPES, Keyword, Posting

if TYPE_CHECKING:
    from common.keywords.tagger import KeywordTagger
from common.text.spans import (
    bio_to_spans,
    gold_keywords,
    normalise_keyword,
    posting_text,
    posting_token_offsets,
    raw_posting_text,
    repair_bio,
    spans_to_bio,
)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def predicted_sequences(posting: Posting, keywords: Sequence[Keyword],
                        offsets: list[list[tuple[int, int]]] | None = None) -> dict[str, list[list[str]]]:
    """Per layer, one bare BIO sequence per sentence from character-span keywords.

    A keyword covers every token it overlaps; a keyword that runs over a sentence end is cut
    at the end of the sentence where it starts (gold spans never cross sentences). Overlapping
    keywords of one type: the later one wins where they overlap. ``offsets``: the tokens'
    offsets in the text the keywords index (default ``posting_text``; ``raw_posting_text``'s
    for text as people write it).
    """
    offsets = offsets if offsets is not None else posting_token_offsets(posting)
    flat = [(i, j) for i, sent in enumerate(offsets) for j in range(len(sent))]
    flat_ends = [offsets[i][j][1] for i, j in flat]
    spans: dict[str, list[list[tuple[int, int, str]]]] = {t: [[] for _ in offsets] for t in KEYWORD_TYPES}
    for kw in keywords:
        if kw.type not in spans:
            continue
        k = bisect.bisect_right(flat_ends, kw.start)  # first token ending after the keyword starts
        if k == len(flat):
            continue
        sent, j0 = flat[k]
        if offsets[sent][j0][0] >= kw.end:
            continue  # covers only whitespace
        j1 = j0
        while j1 + 1 < len(offsets[sent]) and offsets[sent][j1 + 1][0] < kw.end:
            j1 += 1
        spans[kw.type][sent].append((j0, j1 + 1, kw.type))
    return {
        t: [spans_to_bio(sorted(spans[t][i]), len(offsets[i])) for i in range(len(offsets))]
        for t in KEYWORD_TYPES
    }


def _typed(seq: Sequence[str], ktype: str) -> list[str]:
    return [t if t == "O" else f"{t[0]}-{ktype}" for t in repair_bio(seq)]


def _span_scores(true: dict[str, list[list[str]]], pred: dict[str, list[list[str]]]) -> dict[str, Any]:
    """seqeval strict IOB2 P/R/F1 per layer and micro over both layers.

    Uses seqeval's own strict entity extraction (``seqeval.scheme.Entities``, what
    ``classification_report(mode="strict")`` counts) once per side instead of once per
    average, which is several times faster on the full dev set.
    """
    from seqeval.scheme import IOB2, Entities

    y_true, y_pred = [], []
    for t in KEYWORD_TYPES:
        y_true += [_typed(s, t) for s in true[t]]
        y_pred += [_typed(s, t) for s in pred[t]]
    ent_true, ent_pred = Entities(y_true, IOB2), Entities(y_pred, IOB2)
    out: dict[str, Any] = {}
    tp_all = gold_all = pred_all = 0
    for t in KEYWORD_TYPES:
        g, p = ent_true.filter(t), ent_pred.filter(t)
        tp = len(g & p)
        out[t] = {**_prf(tp, len(p), len(g)), "gold": len(g), "predicted": len(p)}
        tp_all, gold_all, pred_all = tp_all + tp, gold_all + len(g), pred_all + len(p)
    out["overall"] = {**_prf(tp_all, pred_all, gold_all), "gold": gold_all, "predicted": pred_all}
    return out


def _doc_scores(gold: list[set[str]], pred: list[set[str]]) -> dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    out = _prf(tp, sum(len(p) for p in pred), sum(len(g) for g in gold))
    per_doc = [_prf(len(g & p), len(p), len(g))["f1"] for g, p in zip(gold, pred)]
    out["macro_f1"] = sum(per_doc) / len(per_doc) if per_doc else 0.0
    out["postings"] = len(gold)
    return out


def keyword_set(keywords: Sequence[Keyword]) -> set[str]:
    """A posting's keyword set: normalised keyword strings, type ignored, empties dropped."""
    return {n for n in (normalise_keyword(k.text) for k in keywords) if n}


def dev_texts(postings: Sequence[Posting], raw: bool = False) -> list[str]:
    """The texts to run a system on: SkillSpan's tokenised form, or (``raw``) as people write it."""
    return [raw_posting_text(p)[0] if raw else posting_text(p) for p in postings]


def _gold_set(posting: Posting, raw: bool) -> set[str]:
    if not raw:
        return keyword_set(gold_keywords(posting))
    text, offsets = raw_posting_text(posting)
    spans = [(offs[s][0], offs[e - 1][1]) for sent, offs in zip(posting.sentences, offsets)
             for t in KEYWORD_TYPES if sent.tags.get(t) for s, e, _ in bio_to_spans(sent.tags[t], t)]
    return {n for n in (normalise_keyword(text[a:b]) for a, b in spans) if n}


def evaluate_keywords(postings: Sequence[Posting], predictions: Sequence[Sequence[Keyword]],
                      raw: bool = False) -> dict[str, Any]:
    """Score ``predictions[i]`` (keywords over ``posting_text(postings[i])``, or with ``raw`` over
    ``raw_posting_text(postings[i])``: ``dev_texts(postings, raw)``) against the gold.

    Returns ``{"span": {"overall"|"Skill"|"Knowledge": {precision, recall, f1, gold, predicted}},
    "doc": {precision, recall, f1, macro_f1, postings}, "by_source": {source: {"span", "doc"}},
    "postings": n}``; the primary metric is ``report["span"]["overall"]["f1"]``.
    """
    if len(postings) != len(predictions):
        raise ValueError(f"{len(postings)} postings but {len(predictions)} prediction lists")
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"true": {t: [] for t in KEYWORD_TYPES}, "pred": {t: [] for t in KEYWORD_TYPES},
                 "gold_sets": [], "pred_sets": []}
    )
    for posting, kws in zip(postings, predictions):
        pred = predicted_sequences(posting, kws, raw_posting_text(posting)[1] if raw else None)
        for key in ("__all__", posting.source or "unknown"):
            g = groups[key]
            for t in KEYWORD_TYPES:
                g["true"][t] += [s.tags.get(t) or ["O"] * len(s.tokens) for s in posting.sentences]
                g["pred"][t] += pred[t]
            g["gold_sets"].append(_gold_set(posting, raw))
            g["pred_sets"].append(keyword_set(kws))

    def summary(g: dict[str, Any]) -> dict[str, Any]:
        return {"span": _span_scores(g["true"], g["pred"]), "doc": _doc_scores(g["gold_sets"], g["pred_sets"])}

    overall = summary(groups.pop("__all__")) if postings else summary(
        {"true": {t: [] for t in KEYWORD_TYPES}, "pred": {t: [] for t in KEYWORD_TYPES},
         "gold_sets": [], "pred_sets": []})
    return {
        "span": overall["span"],
        "doc": overall["doc"],
        "by_source": {src: summary(g) for src, g in sorted(groups.items())},
        "postings": len(postings),
    }


def save_report(report: dict[str, Any], out_dir: str | Path, history: Sequence[dict] | None = None,
                name: str = "report") -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.png`` (span P/R/F1 per type and source, doc-level F1,
    and the training loss / dev F1 curve when ``history`` is given) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{name}.json"
    payload = dict(report)
    if history is not None:
        payload["history"] = list(history)
    json_path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")

    groups = [("overall", report["span"]["overall"]), ("Skill", report["span"]["Skill"]),
              ("Knowledge", report["span"]["Knowledge"])]
    groups += [(f"{src}", r["span"]["overall"]) for src, r in report.get("by_source", {}).items()]
    groups += [("doc-level", report["doc"])]
    losses = [(h["step"], h["loss"]) for h in history or [] if "loss" in h]
    dev = [(h["step"], h["dev_span_f1"]) for h in history or [] if "dev_span_f1" in h]
    ncols = 2 if losses else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4), squeeze=False)
    ax = axes[0][0]
    width = 0.27
    xs = range(len(groups))
    for k, metric in enumerate(("precision", "recall", "f1")):
        ax.bar([x + (k - 1) * width for x in xs], [g[metric] for _, g in groups], width, label=metric)
    ax.set_xticks(list(xs), [n for n, _ in groups], rotation=20)
    ax.set_ylim(0, 1)
    ax.set_title(f"strict span P/R/F1 (overall F1 {report['span']['overall']['f1']:.3f})")
    ax.legend(fontsize=8)
    if losses:
        ax2 = axes[0][1]
        ax2.plot(*zip(*losses), label="train loss")
        ax2.set_xlabel("step")
        ax2.set_ylabel("loss")
        if dev:
            ax3 = ax2.twinx()
            ax3.plot(*zip(*dev), "o-", color="tab:green", label="dev span-F1")
            ax3.set_ylabel("dev span-F1")
        ax2.set_title("training")
    fig.tight_layout()
    png_path = out_dir / f"{name}.png"
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of an evaluation report as a flat dict (for registries and tables)."""
    m = {
        "span_f1": report["span"]["overall"]["f1"],
        "span_precision": report["span"]["overall"]["precision"],
        "span_recall": report["span"]["overall"]["recall"],
        "skill_f1": report["span"]["Skill"]["f1"],
        "knowledge_f1": report["span"]["Knowledge"]["f1"],
        "doc_f1": report["doc"]["f1"],
        "doc_precision": report["doc"]["precision"],
        "doc_recall": report["doc"]["recall"],
    }
    for source, rep in report.get("by_source", {}).items():
        m[f"{source}_span_f1"] = rep["span"]["overall"]["f1"]
    return {k: float(v) for k, v in m.items()}


def evaluate_tagger(tagger: KeywordTagger, postings: Sequence[Posting], raw: bool = False) -> dict[str, Any]:
    """Run ``tagger`` over the postings' texts (SkillSpan's tokenised form, or with ``raw`` as
    people write them) and score it with ``evaluate_keywords``."""
    return evaluate_keywords(list(postings), tagger.extract(dev_texts(postings, raw)), raw=raw)


def span_f1_with_interval(postings: Sequence[Posting], predictions: Sequence[Sequence[Keyword]],
                          raw: bool = False) -> tuple[float, list[float]]:
    """Strict span-F1 over both layers (``evaluate_keywords``' overall F1) and its bootstrap 95 %
    interval, postings resampled: per posting 2 TP against gold + predicted spans."""
    from common.core.stats import ratio_with_interval

    num, den = [], []
    for posting, kws in zip(postings, predictions, strict=True):
        o = evaluate_keywords([posting], [kws], raw)["span"]["overall"]
        num.append(2 * round(o["recall"] * o["gold"]))
        den.append(o["gold"] + o["predicted"])
    return ratio_with_interval(num, den)
