"""Sentence-encoder speed on what the platform embeds: a posting's sentences, ESCO names, ESCO texts.

For each backend and each batch budget (``Encoder(max_batch_tokens=...)``: padded pieces per batch;
``0`` = the old batches of 64 texts, padded to the longest), the texts per second and the largest
difference to the first row's vectors. The posting sentences are the linker's sentence evidence
(``common.linking.skills``), the names and texts what the linker's index embeds.

    python benchmarks/embedding.py --threads 2
    python benchmarks/embedding.py --threads 1 --budgets 0,256,512,1024 --backends torch,onnx
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def unlabeled_postings(n: int, max_chars: int = 3300) -> list[str]:
    """Every fourth of the first ``4 n`` unlabelled postings, cut to ``max_chars`` (about 500 words)."""
    from common.core.settings import get_settings

    path = get_settings().shared_data_dir / "unlabeled" / "postings.jsonl"
    if not path.exists():
        raise SystemExit(f"error: {path} is missing (the shared data set's unlabelled postings)")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["text"][:max_chars] for _, line in zip(range(n * 4), fh, strict=False)][::4]


def samples(n_postings: int, n_names: int, seed: int = 0) -> dict[str, list[list[str]]]:
    """Sets of texts, each encoded in one call as the platform does: one call per posting's sentences."""
    from common.linking.taxonomy import load_taxonomy
    from common.text.sentences import split_sentences

    posts = unlabeled_postings(n_postings)
    tax = load_taxonomy()
    rng = random.Random(seed)
    return {"posting sentences": [[" ".join(s.text.split()) for s in split_sentences(p)] for p in posts],
            "ESCO names": [rng.sample(list(tax.skills["label"]), n_names)],
            "ESCO texts": [rng.sample(list(tax.skills["text"].fillna("")), n_names // 8)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx (fp32), onnx-int8")
    ap.add_argument("--budgets", default="0,512,1024", help="padded pieces per batch; 0 = batches of 64 texts")
    ap.add_argument("--postings", type=int, default=10)
    ap.add_argument("--names", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from common.text.embeddings import Encoder
    from common.text.onnx_backend import export_encoder

    torch.set_num_threads(args.threads)
    sets = samples(args.postings, args.names)
    onnx_dir = None
    backends = args.backends.split(",")
    if any(b != "torch" for b in backends):
        onnx_dir = Path(tempfile.mkdtemp(prefix="jobskills-embed-bench-"))
        export_encoder(Encoder(None).model, onnx_dir, quantize="onnx-int8" in backends)
    rows, ref = [], {}
    for backend in backends:
        for budget in (int(b) for b in args.budgets.split(",")):
            enc = Encoder(None, max_length=128, num_threads=args.threads, onnx_dir=onnx_dir, backend=backend,
                          max_batch_tokens=budget or 64 * 128)
            for name, groups in sets.items():
                enc.encode(groups[0][:8])  # load and warm up
                t0 = time.perf_counter()
                vecs = [enc.encode(g) for g in groups]
                secs = time.perf_counter() - t0
                ref.setdefault(name, vecs)
                diff = max(float(np.abs(a - b).max()) for a, b in zip(ref[name], vecs, strict=True))
                n = sum(map(len, groups))
                rows.append({"backend": backend, "budget": budget or "64 texts", "set": name, "texts": n,
                             "texts_per_s": round(n / secs, 1), "max_abs_diff": diff})
                print(rows[-1], file=sys.stderr, flush=True)
    print(f"\nthreads {args.threads}; posting sentences: {args.postings} postings (first 3,300 characters), "
          "one call each\n")
    print("| backend | batch budget | set | texts | texts/s | x first row | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    first = {}
    for r in rows:
        base = first.setdefault(r["set"], r["texts_per_s"])
        print(f"| {r['backend']} | {r['budget']} | {r['set']} | {r['texts']} | {r['texts_per_s']:.0f} | "
              f"{r['texts_per_s'] / base:.2f} | {r['max_abs_diff']:.1e} |")
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
