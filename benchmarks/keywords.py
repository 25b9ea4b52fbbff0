"""Benchmark every keyword extractor on SkillSpan dev: tagger variants and unsupervised baselines.

Prints one table: strict span-F1 (overall, Skill, Knowledge, tech, house), document-level
keyword-set F1, training time and inference throughput (postings per second) on this machine.
Every system is scored twice: on SkillSpan's tokenised dev text (``tok``) and on the same
postings re-joined the way people write them (``raw``: ``Python, SQL (AWS).``); the gap between
the two rows of a tagger is printed and must stay under 1 point.

    python benchmarks/keywords.py --reuse            # reuse tagger folders that already exist
    python benchmarks/keywords.py --variants finetune --baselines tfidf --max-dev-postings 10
    python benchmarks/keywords.py --variants finetune --reuse --tagger mpnet=.jobskills/models/keyword-tagger/mpnet-finetune

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


def _row(name: str, report: dict, train_s: float | None, per_s: float, text: str = "tok") -> dict:
    src = report.get("by_source", {})
    return {
        "system": name,
        "text": text,
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
    ap.add_argument("--tagger", action="append", default=[], metavar="NAME=DIR",
                    help="Also score this trained tagger folder (repeatable), e.g. mpnet=<dir>.")
    ap.add_argument("--ensemble", action="append", default=[], metavar="NAME=DIR,DIR",
                    help="Also score the mean of these taggers' word distributions (a seed ensemble).")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file.")
    args = ap.parse_args(argv)

    import torch

    from common.keywords.baselines import make_baseline
    from common.keywords.evaluate import evaluate_keywords
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.keywords.evaluate import dev_texts
    from common.keywords.tagger import TAGGER_FILE, KeywordTagger, ensemble_extract
    from common.keywords.config import TaggerConfig
    from common.keywords.training import train_tagger

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = get_settings()
    root = args.models_root or settings.models_dir / settings.keyword_model_name
    train = load_skillspan("train")
    dev = load_skillspan("dev")[: args.max_dev_postings] if args.max_dev_postings else load_skillspan("dev")
    texts = {"tok": dev_texts(dev), "raw": dev_texts(dev, raw=True)}
    rows = []

    def score(name: str, extract, train_s: float | None) -> None:
        for kind, kind_texts in texts.items():
            t0 = time.perf_counter()
            preds = extract(kind_texts)
            secs = time.perf_counter() - t0
            rows.append(_row(name, evaluate_keywords(dev, preds, raw=kind == "raw"), train_s, len(dev) / secs, kind))
            print(f"{name} ({kind}): span-F1 {rows[-1]['span_f1']:.4f}", file=sys.stderr)

    taggers = []
    for variant in [v for v in args.variants.split(",") if v]:
        model_dir = root / f"minilm-{variant}"
        if not (args.reuse and (model_dir / TAGGER_FILE).exists()):
            cfg = TaggerConfig.from_yaml(_config_for(variant), threads=args.threads, eval_each_epoch=False)
            print(f"training {variant} -> {model_dir}", file=sys.stderr)
            train_tagger(cfg, train, None, model_dir, progress=True)
        taggers.append((f"MiniLM {variant}", model_dir))
    for spec in args.tagger:
        name, _, folder = spec.partition("=")
        taggers.append((name, Path(folder)))
    for name, model_dir in taggers:
        meta = json.loads((model_dir / TAGGER_FILE).read_text())
        tagger = KeywordTagger.load(model_dir, device="cpu")
        score(f"{name} [{tagger.tier}]", tagger.extract, meta.get("train_seconds"))
    for spec in args.ensemble:
        name, _, folders = spec.partition("=")
        members = [KeywordTagger.load(Path(f), device="cpu") for f in folders.split(",")]
        train_s = sum(json.loads((Path(f) / TAGGER_FILE).read_text()).get("train_seconds") or 0
                      for f in folders.split(","))
        score(f"{name} [{members[0].tier} x{len(members)}]", lambda t, m=members: ensemble_extract(m, t), train_s)
        taggers.append((name, None))

    out = args.out or settings.reports_dir / "keywords" / "benchmark.json"
    previous = {}
    if args.reuse and out.exists():
        old = json.loads(out.read_text())
        if old.get("dev_postings") == len(dev) and all("text" in r for r in old.get("rows", [])):
            for r in old.get("rows", []):
                previous.setdefault(r["system"].split(" ")[0], []).append(r)
    for name in [b for b in args.baselines.split(",") if b]:
        if name in previous:  # unsupervised baselines do not change between runs: reuse their rows
            rows.extend(previous[name])
            print(f"{name}: reused from {out}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        model = make_baseline(name).fit(train)
        score(f"{name} (rate {model.rate:g})", model.extract, time.perf_counter() - t0)

    header = ("| system | text | span-F1 | P | R | Skill F1 | Knowledge F1 | tech F1 | house F1 | doc F1 "
              "| train s | postings/s |")
    print(f"\nSkillSpan dev ({len(dev)} postings), strict span-level seqeval; CPU threads {torch.get_num_threads()}\n")
    print(header)
    print("|" + "---|" * 12)
    for r in rows:
        train_s = "-" if r["train_s"] is None else f"{r['train_s']:.0f}"
        print(f"| {r['system']} | {r['text']} | {r['span_f1']:.3f} | {r['span_p']:.3f} | {r['span_r']:.3f} "
              f"| {r['skill_f1']:.3f} | {r['knowledge_f1']:.3f} | {r['tech_f1']:.3f} | {r['house_f1']:.3f} "
              f"| {r['doc_f1']:.3f} | {train_s} | {r['postings_per_s']:.2f} |")
    gaps = {}
    for r in rows:
        gaps.setdefault(r["system"], {})[r["text"]] = r["span_f1"]
    print("\nraw - tok span-F1 (must stay within 1 point for every tagger):")
    for system, by in gaps.items():
        if {"raw", "tok"} <= set(by):
            gap = by["raw"] - by["tok"]
            flag = "" if abs(gap) <= 0.01 or not system.startswith(tuple(n for n, _ in taggers)) else "  OVER 1 POINT"
            print(f"  {system}: {gap:+.3f}{flag}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dev_postings": len(dev), "rows": rows}, indent=2))
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
