"""The linker's query backends side by side: torch against the ONNX exports, on what it answers.

For each backend (``LinkerConfig.backend``: torch, onnx = fp32, onnx-int8) of one built linker: the
span figures on the Decorte validation files (R@1, R@5, MRR@10, linked right, not-present left
unlinked; no context, the served weights), the keyword links and ESCO skills of real unlabelled
postings (``link_posting`` on the tagger's keywords), how many of those differ from the first
backend's, and the seconds they took. Parity means the same answers, not close scores.

    python benchmarks/linker_backends.py --linker DIR --tagger DIR --threads 2 [--backends torch,onnx,onnx-int8]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--linker", type=Path, required=True, help="a built linker folder")
    ap.add_argument("--tagger", type=Path, required=True, help="the tagger whose keywords are linked")
    ap.add_argument("--backends", default="torch,onnx")
    ap.add_argument("--postings", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    os.environ["JOBSKILLS_THREADS"] = str(args.threads)

    from common.core.settings import use_threads
    from common.keywords.tagger import KeywordTagger
    from common.linking.evaluate import evaluate_linker, load_validation
    from common.linking.linker import ESCOLinker, encoder_onnx_dir
    from common.linking.skills import link_posting

    use_threads()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from embedding import unlabeled_postings

    texts = unlabeled_postings(args.postings)
    keywords = KeywordTagger.load(args.tagger).extract(texts)
    validation = load_validation()
    rows = []
    for backend in args.backends.split(","):
        linker = ESCOLinker.load(args.linker)
        linker.cfg = linker.cfg.model_copy(update={"backend": backend, "threads": args.threads})
        if backend != "torch":
            linker.onnx_dir = encoder_onnx_dir(linker.cfg)  # exports the int8 copy too when asked
        metrics = evaluate_linker(linker, validation, context=False)
        t0 = time.perf_counter()
        answers = [link_posting(linker, t, k) for t, k in zip(texts, keywords, strict=True)]
        rows.append({"backend": linker.backend, "seconds": time.perf_counter() - t0,
                     "spans": {f: {k: round(v, 4) for k, v in m.items() if isinstance(v, float)}
                               for f, m in metrics.items() if isinstance(m, dict)},
                     "links": [[m.uri if m else None for m in a.links] for a in answers],
                     "skills": [[(s.uri, s.implied) for s in a.skills] for a in answers]})
        print(f"{rows[-1]['backend']}: {json.dumps(rows[-1]['spans'])}", file=sys.stderr, flush=True)
    base = rows[0]
    n_links = sum(map(len, base["links"]))
    print(f"\n{args.linker}; {len(texts)} postings, {n_links} keywords; threads {args.threads}\n")
    print("| backend | file | R@1 | R@5 | MRR@10 | linked right | not-present unlinked | keyword links differing | "
          "skill lists differing | s per posting |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        links = sum(x != y for p, q in zip(base["links"], r["links"], strict=True) for x, y in zip(p, q, strict=True))
        skills = sum(p != q for p, q in zip(base["skills"], r["skills"], strict=True))
        for f, m in r["spans"].items():
            print(f"| {r['backend']} | {f} | {m['r_at_1']:.4f} | {m['r_at_5']:.4f} | {m['mrr_at_10']:.4f} | "
                  f"{m['linked_correct']:.4f} | {m['unlinked_not_present']:.4f} | {links} of {n_links} | "
                  f"{skills} of {len(texts)} | {r['seconds'] / len(texts):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
