"""Benchmark every keyword extractor on SkillSpan dev: tagger variants and unsupervised baselines.

Prints one table: strict span-F1 (overall, Skill, Knowledge, tech, house), document-level
keyword-set F1, training time and inference throughput (postings per second) on this machine.

    python benchmarks/keywords.py --reuse            # reuse tagger folders that already exist
    python benchmarks/keywords.py --variants finetune --baselines tfidf --max-dev-postings 10

Tagger folders: ``<models-root>/minilm-<variant>`` (default models-root:
``<data_dir>/models/keyword-tagger``); without ``--reuse`` (or when a folder is missing) the
variant is trained with ``configs/tagger.yaml`` (finetune) or ``configs/tagger-<variant>.yaml``.
The training time shown for a reused folder is the one recorded in its ``tagger.json``; with
``--reuse`` the baseline rows of a previous run's JSON (same dev size) are reused as well.
Results are also written to ``<data_dir>/reports/keywords/benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

REPO = Path(__file__).resolve().parents[1]


def _row(name: str, report: dict, train_s: float | None, per_s: float) -> dict:
    src = report.get("by_source", {})
    return {
        "system": name,
        "span_f1": report["span"]["overall"]["f1"],
        "span_p": report["span"]["overall"]["precision"],
        "span_r": report["span"]["overall"]["recall"],
        "skill_f1": report["span"]["Skill"]["f1"],
        "knowledge_f1": report["span"]["Knowledge"]["f1"],
        "tech_f1": src.get("tech", {}).get("span", {}).get("overall", {}).get("f1", float("nan")),
        "house_f1": src.get("house", {}).get("span", {}).get("overall", {}).get("f1", float("nan")),
        "doc_f1": report["doc"]["f1"],
        "train_s": train_s,
        "postings_per_s": per_s,
    }


def _config_for(variant: str) -> Path:
    name = "tagger.yaml" if variant == "finetune" else f"tagger-{variant}.yaml"
    return REPO / "configs" / name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="frozen,finetune,crf")
    ap.add_argument("--baselines", default="tfidf,yake,keybert")
    ap.add_argument("--models-root", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="Reuse existing tagger folders instead of retraining.")
    ap.add_argument("--max-dev-postings", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file.")
    args = ap.parse_args(argv)

    import torch

    from common.keywords.baselines import make_baseline
    from common.keywords.evaluate import evaluate_keywords
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.text.spans import posting_text
    from common.keywords.tagger import TAGGER_FILE, KeywordTagger, TaggerConfig, train_tagger

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = get_settings()
    root = args.models_root or settings.models_dir / settings.keyword_model_name
    train = load_skillspan("train")
    dev = load_skillspan("dev")[: args.max_dev_postings] if args.max_dev_postings else load_skillspan("dev")
    texts = [posting_text(p) for p in dev]
    rows = []

    for variant in [v for v in args.variants.split(",") if v]:
        model_dir = root / f"minilm-{variant}"
        if not (args.reuse and (model_dir / TAGGER_FILE).exists()):
            cfg = TaggerConfig.from_yaml(_config_for(variant), threads=args.threads, eval_each_epoch=False)
            print(f"training {variant} -> {model_dir}", file=sys.stderr)
            train_tagger(cfg, train, None, model_dir, progress=True)
        meta = json.loads((model_dir / TAGGER_FILE).read_text())
        tagger = KeywordTagger.load(model_dir, device="cpu")
        t0 = time.perf_counter()
        preds = tagger.extract(texts)
        secs = time.perf_counter() - t0
        rows.append(_row(f"MiniLM {variant}", evaluate_keywords(dev, preds), meta.get("train_seconds"), len(dev) / secs))
        print(f"{rows[-1]['system']}: span-F1 {rows[-1]['span_f1']:.4f}", file=sys.stderr)

    out = args.out or settings.reports_dir / "keywords" / "benchmark.json"
    previous = {}
    if args.reuse and out.exists():
        old = json.loads(out.read_text())
        if old.get("dev_postings") == len(dev):
            previous = {r["system"].split(" ")[0]: r for r in old.get("rows", [])}
    for name in [b for b in args.baselines.split(",") if b]:
        if name in previous:  # unsupervised baselines do not change between runs: reuse their row
            rows.append(previous[name])
            print(f"{name}: reused from {out}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        model = make_baseline(name).fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        preds = model.extract(texts)
        secs = time.perf_counter() - t0
        rows.append(_row(f"{name} (rate {model.rate:g})", evaluate_keywords(dev, preds), fit_s, len(dev) / secs))
        print(f"{rows[-1]['system']}: span-F1 {rows[-1]['span_f1']:.4f}", file=sys.stderr)

    header = ("| system | span-F1 | P | R | Skill F1 | Knowledge F1 | tech F1 | house F1 | doc F1 "
              "| train s | postings/s |")
    print(f"\nSkillSpan dev ({len(dev)} postings), strict span-level seqeval; CPU threads {torch.get_num_threads()}\n")
    print(header)
    print("|" + "---|" * 11)
    for r in rows:
        train_s = "-" if r["train_s"] is None else f"{r['train_s']:.0f}"
        print(f"| {r['system']} | {r['span_f1']:.3f} | {r['span_p']:.3f} | {r['span_r']:.3f} | {r['skill_f1']:.3f} "
              f"| {r['knowledge_f1']:.3f} | {r['tech_f1']:.3f} | {r['house_f1']:.3f} | {r['doc_f1']:.3f} "
              f"| {train_s} | {r['postings_per_s']:.2f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dev_postings": len(dev), "rows": rows}, indent=2))
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
