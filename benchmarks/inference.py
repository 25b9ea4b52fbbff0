"""Inference backends side by side on one trained tagger: speed and SkillSpan dev parity.

For each backend (``torch``, ``onnx`` fp32, ``onnx-int8``) of a tagger folder: encoder throughput
on fixed batches (sub-word tokens/s at batch x length), tagger throughput on SkillSpan dev as
people write it (words/s, postings/s), and strict span-F1 on dev (tokenised and raw) with its
difference to torch. Exports the folder first when it has no ONNX files.

    python benchmarks/inference.py --model .jobskills/models/keyword-tagger/minilm-finetune
    python benchmarks/inference.py --model <dir> --threads 2 --batch 16 --length 128 --repeats 10
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


def encoder_tokens_per_s(tagger, batch: int, length: int, repeats: int) -> float:
    """Sub-word pieces/s of the tagger's encoder alone on fixed batches, on the tagger's device (a
    GPU is timed after it has finished the work)."""
    import torch

    ids = torch.randint(1000, 2000, (batch, length), device=tagger.device)
    mask = torch.ones_like(ids)
    sync = torch.cuda.synchronize if str(tagger.device).startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        tagger.net.encoder(input_ids=ids, attention_mask=mask)  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            tagger.net.encoder(input_ids=ids, attention_mask=mask)
        sync()
    return batch * length * repeats / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="Tagger folder.")
    ap.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads.")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--max-dev-postings", type=int, default=None)
    ap.add_argument("--backends", default="torch,onnx,onnx-int8", help="comma-separated; the first is the reference")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file.")
    args = ap.parse_args(argv)
    if args.threads:
        os.environ["JOBSKILLS_THREADS"] = str(args.threads)

    import torch

    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.keywords.evaluate import dev_texts, evaluate_keywords
    from common.keywords.tagger import KeywordTagger
    from common.text.onnx_backend import available_backends, export_encoder

    get_settings.cache_clear()
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(available_backends(args.model)) < 3:
        print(f"exporting {args.model}", file=sys.stderr)
        export_encoder(KeywordTagger.load(args.model, device="cpu", backend="torch").net.encoder, args.model)
    dev = load_skillspan("dev")
    dev = dev[: args.max_dev_postings] if args.max_dev_postings else dev
    texts = {"tok": dev_texts(dev), "raw": dev_texts(dev, raw=True)}
    n_words = sum(len(t.split()) for t in texts["raw"])
    rows = []
    for backend in args.backends.split(","):
        tagger = KeywordTagger.load(args.model, device="cpu", backend=backend)
        row = {"backend": backend,
               "encoder_tokens_per_s": encoder_tokens_per_s(tagger, args.batch, args.length, args.repeats)}
        for kind, kind_texts in texts.items():
            t0 = time.perf_counter()
            preds = tagger.extract(kind_texts)
            secs = time.perf_counter() - t0
            row[f"{kind}_span_f1"] = evaluate_keywords(dev, preds, raw=kind == "raw")["span"]["overall"]["f1"]
            if kind == "raw":
                row["words_per_s"], row["postings_per_s"] = n_words / secs, len(dev) / secs
        rows.append(row)
        print(f"{backend}: {row}", file=sys.stderr)
    base = rows[0]
    print(f"\n{args.model} on SkillSpan dev ({len(dev)} postings, {n_words} words raw); threads "
          f"{torch.get_num_threads()}; encoder batches {args.batch} x {args.length}\n")
    print("| backend | encoder tokens/s | x torch | dev span-F1 tok | dev span-F1 raw | delta raw vs torch "
          "| tagger words/s | postings/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['encoder_tokens_per_s']:.0f} | "
              f"{r['encoder_tokens_per_s'] / base['encoder_tokens_per_s']:.2f} | {r['tok_span_f1']:.4f} | "
              f"{r['raw_span_f1']:.4f} | {r['raw_span_f1'] - base['raw_span_f1']:+.4f} | {r['words_per_s']:.0f} "
              f"| {r['postings_per_s']:.2f} |")
    out = args.out or get_settings().reports_dir / "inference" / "benchmark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": str(args.model), "dev_postings": len(dev), "rows": rows}, indent=2))
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
