"""The scorecard: what users get from the served default models, each figure with a bootstrap
95 % interval and the data its settings were chosen on, so that an in-sample figure is never
read as a held-out one.

Rows (skipped, with a line, when their model or data is absent):

- **keywords**: SkillSpan dev strict span-F1 of the tagger (interval: postings resampled);
- **span links**: per Decorte site (TECH, HOUSE), R@1 over linkable spans and the share of
  LABEL NOT PRESENT spans left unlinked (the linker's fusion weights and threshold were chosen on
  these two files: in-sample; ``benchmarks/linking_transfer.py`` has the cross-file figures);
- **posting skills**: per site (TECH, HOUSE, TECHWOLF), RP@5 of the skills ``/extract`` serves
  for each annotated sentence as a one-sentence posting (``common.linking.skills.link_posting``
  with the served tagger's keywords): hits in the first 5 / min(5, gold labels). The skill
  weights were chosen on TECH and HOUSE; TECHWOLF is the site nothing was chosen on;
- **occupations from real titles**: R@1 / R@5 / MRR on the ``test`` part of
  ``occupations/job_titles_dev.csv`` (``common.occupations.titles``; nothing was chosen on it),
  title only, beside the plain MiniLM cosine with ESCO's names, computed here in the same run;
- **hub rate**: over the City of Los Angeles bulletins of ``unlabeled/postings.jsonl``, the share
  of postings whose served skills include the most frequent non-transversal implied skill
  (interval: postings resampled with that skill fixed).

    python benchmarks/scorecard.py                                  # the served defaults (champion, else latest)
    python benchmarks/scorecard.py --bulletins 120 --json card.json
    python benchmarks/scorecard.py --tagger DIR --linker DIR --occupations DIR --skip hub
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

SECTIONS = ("keywords", "spans", "skills", "titles", "hub")
LA_SOURCE = "los-angeles-city-bulletins"


def row(area: str, figure: str, data: str, chosen_on: str, value: float, ci: list[float], n: int) -> dict[str, Any]:
    return {"area": area, "figure": figure, "data": data, "chosen_on": chosen_on, "value": value, "ci": ci, "n": n}


def keyword_rows(tagger: Any) -> list[dict[str, Any]]:
    from common.data.skillspan import load_skillspan
    from common.keywords.evaluate import dev_texts, span_f1_with_interval

    dev = load_skillspan("dev")
    value, ci = span_f1_with_interval(dev, tagger.extract(dev_texts(dev)))
    return [row("keywords", "span F1 (strict)", "SkillSpan dev", "dev (checkpoint and recipe: in-sample)", value, ci,
               len(dev))]


def span_rows(linker: Any) -> list[dict[str, Any]]:
    from common.core.stats import mean_with_interval
    from common.linking.evaluate import (
        NOT_PRESENT,
        gold_rows,
        load_validation,
        ranks_and_scores,
        score_matrix,
    )

    out = []
    for site, df in load_validation(missing_ok=True).items():
        gold = gold_rows(linker, df)
        rank, top, _ = ranks_and_scores(score_matrix(linker, df), gold)
        ok, absent = gold >= 0, (df["label"] == NOT_PRESENT).to_numpy()
        chosen = "TECH + HOUSE (in-sample)"
        out.append(row("span links", "R@1", f"Decorte {site.upper()}", chosen,
                       *mean_with_interval(rank[ok] == 1), int(ok.sum())))
        out.append(row("span links", "not-present left unlinked", f"Decorte {site.upper()}", chosen,
                       *mean_with_interval(top[absent] < linker.threshold), int(absent.sum())))
    return out


def skill_rows(linker: Any, tagger: Any) -> list[dict[str, Any]]:
    from common.core.stats import mean_with_interval
    from common.linking.evaluate import load_sites, sentence_gold, served_rp_at_k

    out = []
    for site, df in load_sites().items():
        vals = served_rp_at_k(linker, tagger.extract, sentence_gold(linker, df))
        chosen = "TECH + HOUSE (in-sample)" if site in ("tech", "house") else "TECH + HOUSE (held out)"
        out.append(row("posting skills", "RP@5 served", f"Decorte {site.upper()} sentences", chosen,
                       *mean_with_interval(vals), len(vals)))
    return out


def title_rows(model: Any) -> list[dict[str, Any]]:
    import numpy as np

    from common.core.config import encoder_or_default
    from common.occupations.titles import (
        load_titles,
        plain_cosine_ranks,
        rank_table,
        ranks_and_top,
        title_scores,
    )
    from common.text.embeddings import Encoder

    r = model.ranker
    titles = load_titles(r.taxonomy)
    test = titles[titles["split"] == "test"]
    truth = np.asarray([r._row[u] for u in test["uri"]])
    ranks, _, _ = ranks_and_top(title_scores(r, test["text"].tolist()), truth, 1)
    base = Encoder(encoder_or_default(None), max_length=r.cfg.max_length, num_threads=r.cfg.threads)
    plain = plain_cosine_ranks(base, r.taxonomy, test["text"].tolist(), truth)
    out = []
    for name, rk in (("served model", ranks), ("plain MiniLM cosine", plain)):
        t = rank_table(rk)
        for key, label in (("r_at_1", "R@1"), ("r_at_5", "R@5"), ("mrr", "MRR")):
            out.append(row("occupations", f"{label} ({name})", "job titles, test part (random by text)",
                           "calib part (held out)", t[key], t[f"{key}_ci"], t["n"]))
    return out


def hub_rows(linker: Any, tagger: Any, bulletins: int | None) -> list[dict[str, Any]]:
    from common.core.settings import get_settings
    from common.core.stats import mean_with_interval
    from common.keywords.unlabeled import source_texts
    from common.linking.evaluate import hub_rate

    texts = source_texts(get_settings().unlabeled_postings, LA_SOURCE)[:bulletins]
    h = hub_rate(linker, texts, [tagger.extract([t])[0] for t in texts], progress=True)
    data = f"LA bulletins (first {len(texts)})"
    return [row("hub rate", f"postings with '{h['hub']}' (implied)", data, "none (unlabelled)",
                *mean_with_interval(h["per_posting"]), len(texts)),
            row("hub rate", "implied share of reported skills", data, "-", round(h["implied_share"], 4),
                [float("nan"), float("nan")], h["skills"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tagger", type=Path, help="Keyword tagger folder (default: the served default).")
    ap.add_argument("--linker", type=Path, help="Linker folder (default: champion, else latest).")
    ap.add_argument("--occupations", type=Path, help="Occupation model folder (default: champion, else latest).")
    ap.add_argument("--bulletins", type=int, default=None, help="First N LA bulletins for the hub rate (default all 683).")
    ap.add_argument("--skip", nargs="*", default=[], choices=SECTIONS, help="Sections to leave out.")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, help="Write the rows here.")
    args = ap.parse_args()

    from common.core.settings import use_threads

    use_threads(args.threads)
    t0 = time.perf_counter()
    tagger = linker = occ = None
    if {"keywords", "skills", "hub"} - set(args.skip):
        from common.keywords.tagger import KeywordTagger, default_model_dir

        tagger = KeywordTagger.load(args.tagger or default_model_dir())
    if {"spans", "skills", "hub"} - set(args.skip):
        from common.linking.linker import ESCOLinker
        from common.linking.linker import default_model_dir as linker_dir

        path = args.linker or linker_dir()
        linker = ESCOLinker.load(path) if path.exists() else None
    if "titles" not in args.skip:
        from common.occupations.model import MODEL_FILE, OccupationModel
        from common.occupations.model import default_model_dir as occ_dir

        path = args.occupations or occ_dir()
        occ = OccupationModel.load(path) if (path / MODEL_FILE).exists() else None
    rows: list[dict[str, Any]] = []
    steps = {"keywords": (lambda: keyword_rows(tagger), tagger), "spans": (lambda: span_rows(linker), linker),
             "skills": (lambda: skill_rows(linker, tagger), linker and tagger),
             "titles": (lambda: title_rows(occ), occ), "hub": (lambda: hub_rows(linker, tagger, args.bulletins),
                                                               linker and tagger)}
    for name, (fn, ready) in steps.items():
        if name in args.skip:
            continue
        if not ready:
            print(f"{name}: skipped (no model: build it first)")
            continue
        t = time.perf_counter()
        rows += fn()
        print(f"{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print("\n| area | figure | data | settings chosen on | value [95 % CI] | n |\n|---|---|---|---|---|---|")
    for r in rows:
        ci = "" if r["ci"][0] != r["ci"][0] else f" [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        print(f"| {r['area']} | {r['figure']} | {r['data']} | {r['chosen_on']} | {r['value']:.3f}{ci} | {r['n']} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
