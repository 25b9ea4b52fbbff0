"""ESCO linking benchmark: each step of the linker against the plain cosine baseline.

On the Decorte et al. TECH and HOUSE validation files: R@1, R@5 and MRR@10 over the spans whose
label is an ESCO v1.2.0 skill, and, with the abstention threshold picked by the linker's rule
(``LinkerConfig.leave_unlinked``), the share of LABEL NOT PRESENT spans left unlinked and the
share of linkable spans linked to their own skill. Last, spans/s of the full linker.

    python benchmarks/linking.py                                   # base MiniLM only
    python benchmarks/linking.py --adapted .jobskills/models/esco-linker/latest/encoder
    python benchmarks/linking.py --json linking.json
    python benchmarks/linking.py --grid                            # the fusion-weight grid

Embeddings of the taxonomy are cached by content hash (``settings.cache_dir``), so a second run
only pays for the spans.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

STEPS = [
    # name, names indexed, fusion weights (dense, text, lexical, context)
    ("cosine: span vs preferred label", "label", (1, 0, 0, 0)),
    ("+ alternative labels and synonym runs (max)", "all", (1, 0, 0, 0)),
    ("+ long text", "all", (1, 0.5, 0, 0)),
    ("+ lexical (rapidfuzz ratio)", "all", (1, 0.5, 0.5, 0)),
    ("+ sentence rerank (context 0.2)", "all", (1, 0.5, 0.5, 0.2)),
]


def _label_only(tax):  # noqa: ANN001, ANN202 - common.linking.Taxonomy
    from common.linking.taxonomy import Taxonomy

    skills = tax.skills.copy()
    skills["alt_labels"] = [[] for _ in range(len(skills))]
    skills["synonyms"] = ""
    return Taxonomy(skills, tax.version)


def run(encoders: dict[str, str | None], leave_unlinked: float, threads: int) -> list[dict]:
    from common.core.config import encoder_or_default
    from common.linking.evaluate import choose_threshold, evaluate_linker, load_validation
    from common.linking.linker import ESCOLinker, FusionWeights, LinkerConfig, build_index
    from common.linking.taxonomy import load_taxonomy

    tax = load_taxonomy().with_names(LinkerConfig().names)  # the names the default linker indexes
    views = {"all": tax, "label": _label_only(tax)}
    val = load_validation()
    rows = []
    for enc_name, enc in encoders.items():
        path = encoder_or_default(enc)
        index = {}
        for view in ("label", "all"):
            cfg = LinkerConfig(encoder=enc, threads=threads)
            index[view] = build_index(cfg, views[view], path, progress=True)
        for name, view, (wd, wt, wl, wc) in STEPS:
            if enc_name != "minilm" and view == "label":
                continue
            cfg = LinkerConfig(encoder=enc, threads=threads, leave_unlinked=leave_unlinked,
                               weights=FusionWeights(dense=wd, text=wt, lexical=wl, context=wc))
            linker = ESCOLinker(cfg, views[view], path, *index[view])
            linker.threshold = choose_threshold(linker, val, leave_unlinked=leave_unlinked)
            m = evaluate_linker(linker, val)
            rows.append({"encoder": enc_name, "step": name, **{f"{f}_{k}": m[f][k] for f in val for k in (
                "r_at_1", "r_at_5", "mrr_at_10", "unlinked_not_present", "linked_correct")},
                "threshold": linker.threshold, "linkable": {f: m[f]["linkable"] for f in val}})
            print(f"{enc_name:8s} {name:46s} tech R@1 {m['tech']['r_at_1']:.3f} house R@1 {m['house']['r_at_1']:.3f}",
                  file=sys.stderr)
    # throughput on every validation span, one call per 32 spans: the default linker (no
    # sentence), then the same with the sentence rerank (it encodes each sentence too)
    spans = [q for df in val.values() for q in df["query"]]
    contexts = [c for df in val.values() for c in df["sentence"]]
    for label, weights in (("default", LinkerConfig().weights), ("with context", linker.cfg.weights)):
        cfg = LinkerConfig(encoder=enc, threads=threads, weights=weights)
        timed = ESCOLinker(cfg, views["all"], path, *index["all"])
        timed.link(spans[:8], contexts[:8])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(spans), 32):
            timed.link(spans[i:i + 32], contexts[i:i + 32])
        rows.append({"encoder": enc_name, "step": "throughput", "variant": label, "spans": len(spans),
                     "spans_per_s": len(spans) / (time.perf_counter() - t0), "threads": threads})
    return rows


def grid(threads: int) -> None:
    """R@1/R@5/MRR@10 per file for every (text, lexical, context) weight on the base encoder."""
    import itertools

    from common.core.config import encoder_or_default
    from common.linking.evaluate import gold_rows, link_metrics, load_validation
    from common.linking.linker import ESCOLinker, FusionWeights, LinkerConfig, build_index
    from common.linking.taxonomy import load_taxonomy

    tax, val = load_taxonomy().with_names(LinkerConfig().names), load_validation()
    cfg = LinkerConfig(threads=threads, weights=FusionWeights(context=0.1))  # context > 0: encode sentences
    linker = ESCOLinker(cfg, tax, encoder_or_default(None), *build_index(cfg, tax, encoder_or_default(None)))
    parts = {n: linker.components(df["query"].tolist(), df["sentence"].tolist()) for n, df in val.items()}
    rows = []
    for wt, wl, wc in itertools.product([0, .15, .3, .5], [0, .25, .5, .75, 1.0], [0, .1, .2, .3]):
        w = FusionWeights(dense=1, text=wt, lexical=wl, context=wc)
        m = {n: link_metrics(linker.fuse(parts[n], w), df, gold_rows(linker, df), 0.0) for n, df in val.items()}
        rows.append((wt, wl, wc, *(m[n][k] for k in ("r_at_1", "r_at_5", "mrr_at_10") for n in ("tech", "house"))))
    rows.sort(key=lambda r: -(r[7] + r[8]))
    print("| text | lexical | context | R@1 T | R@1 H | R@5 T | R@5 H | MRR T | MRR H |\n|" + "---|" * 9)
    for r in rows:
        print("| " + " | ".join(f"{x:.3f}" if i > 2 else f"{x:g}" for i, x in enumerate(r)) + " |")
    meets = sum(1 for r in rows if r[3] >= 0.65 and r[4] >= 0.55 and r[5] >= 0.85 and r[6] >= 0.75)
    print(f"\n{meets} of {len(rows)} settings meet R@1 >= 0.65/0.55 and R@5 >= 0.85/0.75 (TECH/HOUSE)")


def table(rows: list[dict]) -> str:
    head = ("| encoder | step | TECH R@1 | R@5 | MRR@10 | HOUSE R@1 | R@5 | MRR@10 | not-present unlinked T / H "
            "| linked right T / H | threshold |")
    out = [head, "|" + "---|" * 11]
    for r in rows:
        if r["step"] == "throughput":
            continue
        out.append(f"| {r['encoder']} | {r['step']} | {r['tech_r_at_1']:.3f} | {r['tech_r_at_5']:.3f} | "
                   f"{r['tech_mrr_at_10']:.3f} | {r['house_r_at_1']:.3f} | {r['house_r_at_5']:.3f} | "
                   f"{r['house_mrr_at_10']:.3f} | {r['tech_unlinked_not_present']:.3f} / "
                   f"{r['house_unlinked_not_present']:.3f} | {r['tech_linked_correct']:.3f} / "
                   f"{r['house_linked_correct']:.3f} | {r['threshold']:.3f} |")
    for r in rows:
        if r["step"] == "throughput":
            out.append(f"\nthroughput ({r['encoder']}, {r['variant']}): {r['spans_per_s']:.0f} spans/s "
                       f"on {r['threads']} thread(s), {r['spans']} spans in batches of 32")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapted", help="An adapted encoder folder to benchmark beside MiniLM.")
    ap.add_argument("--leave-unlinked", type=float, default=0.55)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="Also write the rows here.")
    ap.add_argument("--from-json", type=Path, help="Reprint a saved run.")
    ap.add_argument("--grid", action="store_true", help="Print the fusion-weight grid instead.")
    args = ap.parse_args()
    if args.grid:
        grid(args.threads)
        return
    if args.from_json:
        print(table(json.loads(args.from_json.read_text())))
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    encoders: dict[str, str | None] = {"minilm": None}
    if args.adapted:
        encoders["adapted"] = args.adapted
    rows = run(encoders, args.leave_unlinked, args.threads)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
