"""Where one ``/extract`` spends its time, in process: the tagger's steps and the linker's.

Runs what the services run for a posting (the tagger's ``extract``; the linker's ``link_posting``,
which gives the keywords' links and the posting's ESCO skills) under cProfile on real postings of
about 500 words, and prints per posting the time of each step by the functions that do it:
tokenising (``doc_from_text``), windows (``window_items``), the encoder's forward, decoding
(``keywords_from_labels`` and the Viterbi), phrase scoring (``ESCOLinker.scores``), sentence
encoding (``sentence_evidence``'s encoder call) and the rest. The served time at one client
(``benchmarks/serving_tiers.py``) minus the sum here is the relay between the processes and JSON.

    python benchmarks/extract_profile.py --tagger DIR --linker DIR --threads 2 [--backend onnx-int8]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

STEPS = {  # step -> (file suffix, function name) whose cumulative time it is
    "tokenise": ("keywords/encoding.py", "doc_from_text"),
    "windows": ("keywords/encoding.py", "window_items"),
    "encoder (tagger)": ("keywords/tagger.py", "_predict_docs"),
    "decode": ("keywords/decoding.py", "keywords_from_labels"),
    "phrase scoring (links)": ("linking/linker.py", "scores"),
    "sentence encoding (skills)": ("linking/skills.py", "sentence_evidence"),
}


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    return sum(v[3] for (f, _, fn), v in stats.stats.items() if f.endswith(suffix) and fn == name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tagger", type=Path, required=True)
    ap.add_argument("--linker", type=Path, default=None, help="linker folder (links and skills); none: keywords only")
    ap.add_argument("--backend", default=None, help="the tagger's backend (default: JOBSKILLS_INFERENCE_BACKEND)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--postings", type=int, default=20)
    ap.add_argument("--max-chars", type=int, default=3300)
    args = ap.parse_args(argv)
    os.environ["JOBSKILLS_THREADS"] = str(args.threads)

    from common.core.settings import use_threads

    use_threads()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from serving import load_texts

    from common.keywords.tagger import KeywordTagger
    from common.linking.linker import ESCOLinker
    from common.linking.skills import link_posting

    tagger = KeywordTagger.load(args.tagger, backend=args.backend)
    linker = ESCOLinker.load(args.linker) if args.linker else None
    texts = load_texts(args.postings, args.max_chars)

    def one(text: str) -> None:
        kws = tagger.extract([text])[0]
        if linker is not None:
            link_posting(linker, text, kws)

    one(texts[0])  # load and warm up
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for t in texts:
        one(t)
    prof.disable()
    wall = (time.perf_counter() - t0) / len(texts)
    stats = pstats.Stats(prof)
    rows = {step: cumulative(stats, *where) / len(texts) for step, where in STEPS.items()}
    rows["encoder (tagger)"] -= rows["windows"]  # _predict_docs includes the windows
    link_total = cumulative(stats, "linking/skills.py", "link_posting") / len(texts)
    rows["linking, the rest"] = link_total - rows["phrase scoring (links)"] - rows["sentence encoding (skills)"]
    profiled = cumulative(stats, "extract_profile.py", "one") / len(texts)
    rows["tagger, the rest"] = profiled - link_total - sum(rows[k] for k in ("tokenise", "windows", "encoder (tagger)",
                                                                                "decode"))
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"\n{len(texts)} postings of {words:.0f} words; tagger {args.tagger.name} ({tagger.backend}), linker "
          f"{args.linker.name if args.linker else 'none'} ({linker.backend if linker else '-'}); threads {args.threads}\n")
    print("| step | ms per posting | share |")
    print("|---|---|---|")
    for step, secs in rows.items():
        print(f"| {step} | {secs * 1000:.0f} | {secs / profiled:.0%} |")
    print(f"| **total (profiled)** | {profiled * 1000:.0f} | |")
    print(f"\nwall per posting without the profiler's overhead is lower: {wall * 1000:.0f} ms with it")
    print(json.dumps({k: round(v * 1000, 1) for k, v in rows.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
