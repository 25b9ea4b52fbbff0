"""How much posting text ingest recovers from cluttered job pages, and how much boilerplate leaks in.

Builds job-board pages around real SkillSpan postings (navigation, cookie banner, adverts,
similar jobs, share links, footer; three layouts; every second page with JSON-LD), serves them
on 127.0.0.1, fetches them with the ingest fetcher and extracts the posting text.

    python benchmarks/extraction.py [--data ../shared/data] [--split dev] [--limit 0] [--out FILE]

recovery = share of the posting's words found in the extracted text (bag of words);
leakage = share of the extracted words that are not from the posting or its title.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="folder with skillspan/{train,dev}.jsonl")
    ap.add_argument("--split", default="dev", choices=["train", "dev"])
    ap.add_argument("--limit", type=int, default=0, help="first N postings only (0: all)")
    ap.add_argument("--jsonld-every", type=int, default=2, help="every N-th page has JSON-LD (0: none)")
    ap.add_argument("--favor", default="recall", choices=["precision", "balanced", "recall"],
                    help="trafilatura trade-off (ExtractConfig.favor)")
    ap.add_argument("--out", type=Path, help="also write the JSON report here")
    args = ap.parse_args(argv)

    from common.data.extract import ExtractConfig
    from common.data.skillspan import DataMissingError, load_skillspan
    from common.testing.testsite import measure_extraction, skillspan_site_postings

    try:
        postings = load_skillspan(args.split, Path(args.data))
    except DataMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    report = measure_extraction(skillspan_site_postings(postings, args.limit or None), jsonld_every=args.jsonld_every,
                                extract_cfg=ExtractConfig(favor=args.favor))
    report["favor"] = args.favor
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report["split"] = args.split
    rows = report.pop("rows")
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**report, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
