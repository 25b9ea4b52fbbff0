"""ESCO linking figures that transfer: every weight and threshold chosen on one validation file and
scored on the other (TECH -> HOUSE, HOUSE -> TECH), beside the in-file figure.

Two tables, on the Decorte et al. validation files:

- **spans**: R@1 / R@5 / MRR@10 over spans whose label is an ESCO v1.2.0 skill, linked right, and
  LABEL NOT PRESENT spans left unlinked. Steps: plain cosine with the preferred label; every name
  (alternative labels); + long text; + lexical; + the brevity prior (today's linker). For each
  step the fusion weights are picked from a small grid by R@1 on the *choice* file (ties broken by
  MRR@10) and the threshold by the linker's rule (``leave_unlinked`` of its not-present spans) on
  that file alone. A last row per file scores the served weights (chosen on neither file alone).
- **sentences**: RP@5 / RP@10 (Decorte et al.: span labels merged per sentence, LABEL NOT PRESENT
  and UNDERSPECIFIED dropped; hits in the top k / min(k, labels)) and the reported skills'
  precision / recall. Steps: the candidates of the sentence's keywords only (span evidence),
  the sentence's own similarity only, and the two fused (``common.linking.skills``), with
  ``sentence_weight``, ``text_weight`` and ``implied_threshold`` chosen on the choice file. With
  ``--retriever`` the sentence evidence comes from a trained sentence retriever
  (``common.linking.retriever``) instead of the linker's own encoder.
  Keywords come from a trained tagger (``--tagger``, default: the served keyword model).

    python benchmarks/linking_transfer.py --threads 2 --json transfer.json
    python benchmarks/linking_transfer.py --tagger .jobskills/models/keyword-tagger/latest
    python benchmarks/linking_transfer.py --skip-spans --retriever <linker>/retriever   # sentences, trained retriever

The taxonomy's embeddings are cached (``settings.cache_dir``), so a second run is quick.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from linking import _label_only  # noqa: E402  (the preferred-labels-only view of the step table)

FILES = ("tech", "house")
SPAN_STEPS = {  # name: (names indexed, grid of (text, lexical, brevity) weights)
    "cosine: span vs preferred label": ("label", [(0.0, 0.0, 0.0)]),
    "+ every ESCO name (max)": ("all", [(0.0, 0.0, 0.0)]),
    "+ long text": ("all", [(t, 0.0, 0.0) for t in (0.15, 0.3, 0.5)]),
    "+ lexical": ("all", list(itertools.product((0.0, 0.15, 0.3, 0.5), (0.25, 0.5, 0.75, 1.0), (0.0,)))),
    "+ brevity prior (today's linker)": ("all", list(itertools.product(
        (0.0, 0.15, 0.3, 0.5), (0.25, 0.5, 0.75, 1.0), (0.025, 0.05, 0.075, 0.1, 0.15)))),
}
SENT_GRID = {"sentence_weight": (0.3, 0.5, 0.7), "text_weight": (0.3, 0.5, 0.7)}
SENT_STEPS = {"span evidence only (keywords' candidates)": {"sentence_weight": (0.0,)},
              "sentence evidence only": {"sentence_weight": (1.0,)},
              "fused (common.linking.skills)": {}}


def _linker(view: str, tax, threads: int, backend: str, query_backend: str = "onnx"):  # noqa: ANN001, ANN202
    """A linker over ``tax`` (``view`` all names, or preferred labels only): index in ``backend``,
    queries in ``query_backend`` (fp32 ONNX, as served on a CPU)."""
    from common.core.config import encoder_or_default
    from common.linking.linker import ESCOLinker, LinkerConfig, build_index, encoder_onnx_dir

    cfg = LinkerConfig(threads=threads, index_backend=backend, backend=query_backend)
    onnx = encoder_onnx_dir(cfg)
    taxonomy = _label_only(tax) if view == "label" else tax.with_names(view)
    lk = ESCOLinker(cfg, taxonomy, encoder_or_default(None),
                    *build_index(cfg, taxonomy, encoder_or_default(None), progress=True, onnx_dir=onnx))
    lk.onnx_dir = onnx
    return lk


def span_rows(tax, val, threads: int, backend: str, leave_unlinked: float, names: list[str]) -> list[dict]:  # noqa: ANN001
    from common.linking.evaluate import choose_threshold, gold_rows, link_metrics
    from common.linking.linker import FusionWeights

    linkers = {v: _linker(v, tax, threads, backend) for v in ("label", *names)}
    parts = {v: {n: lk.components(df["query"].tolist()) for n, df in val.items()} for v, lk in linkers.items()}
    rows = []
    steps = [(step, view if view == "label" else n, grid) for step, (view, grid) in SPAN_STEPS.items()
             for n in (["label"] if view == "label" else names)]
    for step, view, grid in steps:
        lk = linkers[view]
        step = step if view == "label" else f"{step} [names: {view}]"
        for choose, score in [*((f, f) for f in FILES), *itertools.permutations(FILES)]:
            weights = choose_weights(lk, parts[view][choose], val[choose], grid)
            lk.cfg = lk.cfg.model_copy(update={"weights": weights})
            thr = choose_threshold(lk, {choose: val[choose]}, context=False, leave_unlinked=leave_unlinked)
            df = val[score]
            m = link_metrics(lk.fuse(parts[view][score], weights), df, gold_rows(lk, df), thr)
            rows.append({"table": "spans", "step": step, "chosen_on": choose, "scored_on": score,
                         "weights": weights.model_dump(), **m})
    lk = linkers[names[0]]
    served = FusionWeights()
    lk.cfg = lk.cfg.model_copy(update={"weights": served})
    thr = choose_threshold(lk, val, context=False, leave_unlinked=leave_unlinked)  # the build's rule: both files
    for score in FILES:
        df = val[score]
        rows.append({"table": "spans", "step": f"served weights [names: {names[0]}]", "chosen_on": "-",
                     "scored_on": score, "weights": served.model_dump(),
                     **link_metrics(lk.fuse(parts[names[0]][score], served), df, gold_rows(lk, df), thr)})
    return rows


def r1_then_mrr(metrics: dict) -> tuple[float, float]:
    """What a choice on one file maximises: R@1, ties broken by MRR@10."""
    return metrics["r_at_1"], metrics["mrr_at_10"]


def choose_weights(lk, parts: dict, df, grid: list[tuple[float, float, float]]):
    """The (text, lexical, brevity) grid point with the best R@1 on ``df`` (ties: MRR@10)."""
    from common.linking.evaluate import gold_rows, link_metrics
    from common.linking.linker import FusionWeights

    gold = gold_rows(lk, df)
    return max((FusionWeights(dense=1.0, text=t, lexical=le, brevity=b) for t, le, b in grid),
               key=lambda w: r1_then_mrr(link_metrics(lk.fuse(parts, w), df, gold, 0.0)))


def sentence_rows(tax, val, tagger_dir: str, threads: int, backend: str, names: str,  # noqa: ANN001
                  query_backend: str = "onnx", retriever: Path | None = None) -> list[dict]:
    from common.keywords.tagger import KeywordTagger
    from common.linking.evaluate import choose_implied_threshold, sentence_gold, sentence_metrics
    from common.linking.skills import SkillRankConfig, rank_sentences

    lk = _linker(names, tax, threads, backend, query_backend)
    lk.threshold = _span_threshold(lk, val)
    if retriever is not None:
        lk.retriever = _retriever(lk, retriever)
    tagger = KeywordTagger.load(tagger_dir)
    sents = {n: sentence_gold(lk, df) for n, df in val.items()}
    keywords = {n: tagger.extract(s["sentence"].tolist()) for n, s in sents.items()}
    rows = []
    for step, fixed in SENT_STEPS.items():
        grid = {**SENT_GRID, **fixed}
        cfgs = [SkillRankConfig(sentence_weight=w, text_weight=a)
                for w, a in itertools.product(grid["sentence_weight"], grid["text_weight"])]
        rankings = {(n, i): rank_sentences(lk, sents[n]["sentence"].tolist(), keywords[n], c)
                    for n in FILES for i, c in enumerate(cfgs)}
        for choose, score in [*((f, f) for f in FILES), *itertools.permutations(FILES)]:
            i = max(range(len(cfgs)), key=lambda i: sentence_metrics(rankings[(choose, i)], sents[choose], cfgs[i])["rp_at_5"])
            thr = choose_implied_threshold(rankings[(choose, i)], sents[choose], cfgs[i])
            m = sentence_metrics(rankings[(score, i)], sents[score], cfgs[i], thr)
            no_kw = sum(1 for ks, n in zip(keywords[score], sents[score]["n_gold"], strict=True) if n and not ks)
            rows.append({"table": "sentences", "step": step, "chosen_on": choose, "scored_on": score,
                         "sentence_weight": cfgs[i].sentence_weight, "text_weight": cfgs[i].text_weight,
                         "implied_threshold": thr, "sentences_without_keywords": no_kw, **m})
    default = SkillRankConfig()  # the served defaults, chosen on neither file alone
    for name in FILES:
        ranking = rank_sentences(lk, sents[name]["sentence"].tolist(), keywords[name], default)
        rows.append({"table": "sentences", "step": "fused, served defaults", "chosen_on": "-", "scored_on": name,
                     "sentence_weight": default.sentence_weight, "text_weight": default.text_weight,
                     "implied_threshold": default.implied_threshold,
                     "rule_threshold": choose_implied_threshold(ranking, sents[name], default),
                     **sentence_metrics(ranking, sents[name], default)})
    return rows


def _retriever(lk, folder: Path):  # noqa: ANN001, ANN202
    """A built linker's ``retriever/`` folder as saved, or an encoder folder whose index is embedded here."""
    from common.linking.linker import embed_retriever
    from common.linking.retriever import Retriever

    return Retriever.load(folder) or embed_retriever(lk, folder)


def _span_threshold(lk, val) -> float:  # noqa: ANN001
    from common.linking.evaluate import choose_threshold

    return choose_threshold(lk, val, context=False, leave_unlinked=lk.cfg.leave_unlinked)


def table(rows: list[dict]) -> str:
    out = ["| step | chosen on -> scored on | R@1 | R@5 | MRR@10 | linked right | not-present unlinked | threshold |",
           "|" + "---|" * 8]
    for r in (r for r in rows if r["table"] == "spans"):
        out.append(f"| {r['step']} | {r['chosen_on']} -> {r['scored_on']} | {r['r_at_1']:.3f} | {r['r_at_5']:.3f} | "
                   f"{r['mrr_at_10']:.3f} | {r['linked_correct']:.3f} | {r['unlinked_not_present']:.3f} | "
                   f"{r['threshold']:.3f} |")
    out += ["", "| step | chosen on -> scored on | RP@5 | RP@10 | reported P | R | implied (P) | label-less without "
            "implied | weights (sentence, text) / implied thr |", "|" + "---|" * 9]
    for r in (r for r in rows if r["table"] == "sentences"):
        empty = "-" if r["label_less_without_implied"] is None else f"{r['label_less_without_implied']:.2f}"
        out.append(f"| {r['step']} | {r['chosen_on']} -> {r['scored_on']} | {r['rp_at_5']:.3f} | {r['rp_at_10']:.3f} | "
                   f"{r['reported_precision']:.3f} | {r['reported_recall']:.3f} | {r['implied']} "
                   f"({r['implied_precision']:.2f}) | {empty} | "
                   f"{r['sentence_weight']:g}, {r['text_weight']:g} / {r['implied_threshold']:.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tagger", help="Keyword model folder for the sentence table (default: the served one).")
    ap.add_argument("--index-backend", default="onnx", choices=["torch", "onnx-int8", "onnx"],
                    help="The backend that embeds the taxonomy (the served fp32 export by default).")
    ap.add_argument("--query-backend", default="onnx", choices=["torch", "onnx-int8", "onnx"],
                    help="The backend that encodes spans and sentences in the sentence table.")
    ap.add_argument("--leave-unlinked", type=float, default=0.55)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--names", default="runs,esco", help="Name sets to compare (Taxonomy.with_names); the "
                    "sentence table uses the first.")
    ap.add_argument("--retriever", type=Path, help="Sentence retriever for the sentence table: a built linker's "
                    "retriever/ folder, or a trained encoder folder (default: none, the linker's own encoder).")
    ap.add_argument("--skip-spans", action="store_true")
    ap.add_argument("--skip-sentences", action="store_true")
    ap.add_argument("--json", type=Path, help="Also write the rows here.")
    ap.add_argument("--from-json", type=Path, help="Reprint a saved run.")
    args = ap.parse_args()
    if args.from_json:
        print(table(json.loads(args.from_json.read_text())))
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    from common.keywords.tagger import default_model_dir
    from common.linking.evaluate import load_validation
    from common.linking.taxonomy import load_taxonomy

    tax, val = load_taxonomy(), load_validation()
    names = args.names.split(",")
    rows = [] if args.skip_spans else span_rows(tax, val, args.threads, args.index_backend, args.leave_unlinked, names)
    if not args.skip_sentences:
        rows += sentence_rows(tax, val, args.tagger or str(default_model_dir()), args.threads, args.index_backend,
                              names[0], args.query_backend, args.retriever)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
