"""Keyword span hygiene (``common.text.words.tidy_span``): SkillSpan dev span-F1 with and without
it (tokenised and raw text), and what it changes on real postings (City of Los Angeles bulletins).

    python benchmarks/span_hygiene.py --tagger .jobskills/models/keyword-tagger/fast/latest --bulletins 120
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tagger", type=Path, help="Keyword tagger folder (default: the served default).")
    ap.add_argument("--bulletins", type=int, default=120)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.keywords import decoding
    from common.keywords.evaluate import dev_texts, span_f1_with_interval
    from common.keywords.tagger import KeywordTagger, default_model_dir
    from common.keywords.unlabeled import source_texts

    tagger = KeywordTagger.load(args.tagger or default_model_dir())
    dev = load_skillspan("dev")
    bulletins = source_texts(get_settings().unlabeled_postings, "los-angeles-city-bulletins")[: args.bulletins]
    tidy = decoding.tidy_span
    out = {}
    for name, fn in (("without", lambda words, s, e: (s, e)), ("with", tidy)):
        decoding.tidy_span = fn
        for raw in (False, True):
            out[f"{name} hygiene, {'raw' if raw else 'tokenised'} dev F1"] = span_f1_with_interval(
                dev, tagger.extract(dev_texts(dev, raw)), raw)
        out[f"{name} hygiene, LA spans"] = Counter(k.text.lower() for ks in tagger.extract(bulletins) for k in ks)
    decoding.tidy_span = tidy
    for key, val in out.items():
        if isinstance(val, tuple):
            print(f"{key}: {val[0]:.4f} [{val[1][0]:.4f}, {val[1][1]:.4f}]")
    before, after = out["without hygiene, LA spans"], out["with hygiene, LA spans"]
    gone = before - after
    print(f"LA bulletins ({len(bulletins)}): {sum(before.values())} spans without, {sum(after.values())} with; "
          f"{sum(gone.values())} dropped or trimmed; most common: "
          + ", ".join(f"{t!r} x{n}" for t, n in gone.most_common(25)))
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in out.items() if isinstance(v, tuple)}, indent=2))


if __name__ == "__main__":
    main()
