"""Occupation ranking on pseudo-postings of held-out occupations: the issue's protocol and a
sparser one, with skills resolved by exact ESCO name and, with ``--linker``, through the linker.

    python benchmarks/occupations.py --model .jobskills/models/esco-occupations/latest
    python benchmarks/occupations.py --model DIR --linker .jobskills/models/esco-linker/latest --json occ.json

The exact-name rows measure the ranker; the linker rows add the linker's misses and wrong links
(each name linked alone, top-1 above the linker's threshold), closer to a real posting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROTOCOLS = {"issue (60 % essential, 30 % optional)": (0.6, 0.3),
             "sparse (20 % essential, 10 % optional)": (0.2, 0.1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path, help="Occupation model folder.")
    ap.add_argument("--linker", type=Path, help="Linker folder: also resolve the skill names through it.")
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--json", type=Path, help="Write the figures here.")
    args = ap.parse_args()

    from common.linking.taxonomy import load_taxonomy
    from common.occupations.evaluate import evaluate_ranker
    from common.occupations.model import OccupationModel
    from common.occupations.pseudo import pseudo_postings

    model = OccupationModel.load(args.model)
    skills = load_taxonomy()
    index = skills.exact_index()
    resolvers = {"exact name": None}
    if args.linker:
        from common.linking.linker import ESCOLinker

        linker = ESCOLinker.load(args.linker)
        cache: dict[str, str | None] = {}

        def through_linker(names: list[str]) -> list[str]:
            todo = [n for n in dict.fromkeys(names) if n not in cache]
            if todo:
                for n, r in zip(todo, linker.link(todo, top_k=1), strict=True):
                    cache[n] = r.linked.uri if r.linked else None
            return [u for u in dict.fromkeys(cache[n] for n in names) if u]

        resolvers["linker"] = through_linker
    rows = []
    for proto, (ess, opt) in PROTOCOLS.items():
        for titled in (True, False):
            posts = pseudo_postings(model.ranker.taxonomy, skills, args.split, with_title=titled,
                                    essential_share=ess, optional_share=opt)
            for how, resolve in resolvers.items():
                t0 = time.perf_counter()
                figures = evaluate_ranker(model.ranker, posts, index, resolve=resolve)
                for method, r in figures.items():
                    rows.append({"protocol": proto, "title": titled, "skills": how, "method": method, **r,
                                 "seconds": round(time.perf_counter() - t0, 1)})
    print(f"{'protocol':40} {'title':5} {'skills':10} {'method':14} {'R@1':>6} {'R@5':>6} {'MRR':>6} {'n':>4}")
    for r in rows:
        print(f"{r['protocol']:40} {'yes' if r['title'] else 'no':5} {r['skills']:10} {r['method']:14} "
              f"{r['r_at_1']:6.3f} {r['r_at_5']:6.3f} {r['mrr']:6.3f} {r['n']:4d}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
