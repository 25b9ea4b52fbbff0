"""Drift evidence for the SkillSpan tech -> house shift, as the monitor sees it.

Reference: SkillSpan train postings of one source (tech by default). Windows: dev tech (same
source: no drift expected) and dev house (another source: drift expected). For each window it
prints the decision and every feature's evidence (method, score, threshold, verdict, reference
and current means), with timings.

Predictions: ``--predictions gold`` uses the gold keywords (a perfect tagger; confidence is then
constant and skipped), ``--tagger-dir DIR`` a saved ``KeywordTagger`` (e.g. the registry's
champion folder). Checks also go into an Evidently workspace (``--workspace``) so
``jobskills dashboard --workspace DIR`` shows them.

    nice -n 10 python benchmarks/drift.py                       # MiniLM embeddings, gold predictions
    nice -n 10 python benchmarks/drift.py --tagger-dir PATH     # a real tagger's predictions
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default: settings)")
    ap.add_argument("--encoder", default=None, help="encoder folder (default: settings.encoder_path, MiniLM)")
    ap.add_argument("--reference-source", default="tech")
    ap.add_argument("--tagger-dir", type=Path, default=None, help="saved KeywordTagger for predictions")
    ap.add_argument("--config", type=Path, default=None, help="drift config YAML")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/jobskills-drift-bench/evidently"))
    ap.add_argument("--reports", type=Path, default=Path("/tmp/jobskills-drift-bench/reports"))
    args = ap.parse_args(argv)

    from common.monitoring.config import DriftConfig
    from common.monitoring.embedder import TextEmbedder
    from common.monitoring.reference import build_reference
    from common.monitoring.window import skillspan_items, training_skills
    from common.monitoring.checks import run_check
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan

    data = args.data or get_settings().shared_data_dir
    cfg = DriftConfig.from_yaml(args.config) if args.config else DriftConfig()
    cfg = cfg.model_copy(update={"num_threads": args.threads, **({"encoder": args.encoder} if args.encoder else {})})
    predict, pred_name = None, "gold keywords (perfect tagger)"
    if args.tagger_dir:
        from common.keywords.tagger import KeywordTagger

        tagger = KeywordTagger.load(args.tagger_dir)
        predict, pred_name = tagger.extract, f"tagger {args.tagger_dir}"

    train, dev = load_skillspan("train", data), load_skillspan("dev", data)
    ref_postings = [p for p in train if p.source == args.reference_source]
    embedder = TextEmbedder.from_config(cfg)
    t = time.perf_counter()
    reference = build_reference(skillspan_items(ref_postings, predict=predict), training_skills(ref_postings), cfg,
                                embedder=embedder, meta={"predictions": pred_name})
    t_ref = time.perf_counter() - t
    print(f"reference: SkillSpan train/{args.reference_source}, {len(ref_postings)} postings; "
          f"predictions: {pred_name}; encoder: {cfg.encoder_path()}; built in {t_ref:.1f}s")

    stamp = datetime.now(UTC)
    for i, source in enumerate(("tech", "house")):
        postings = [p for p in dev if p.source == source]
        t = time.perf_counter()
        window = skillspan_items(postings, predict=predict)
        res, out_dir = run_check(window, reference, cfg, args.reports, args.workspace, embedder=embedder,
                                 timestamp=stamp + timedelta(minutes=i))
        secs = time.perf_counter() - t
        print(f"\nwindow: SkillSpan dev/{source}, {len(postings)} postings -> {res.summary()}  [{secs:.1f}s]")
        print(f"  {'feature':22} {'method':16} {'score':>10} {'threshold':>9} {'drift':>5} "
              f"{'reference':>10} {'current':>10}  note")
        for f in res.features:
            def num(x: float | None, w: int) -> str:
                return f"{x:>{w}.4g}" if x is not None else " " * w
            thr = num(f.threshold, 9) if f.threshold is not None else f"{'bootstrap':>9}"
            print(f"  {f.feature:22} {f.method:16} {num(f.score, 10)} {thr} {('yes' if f.drifted else 'no'):>5} "
                  f"{num(f.reference_value, 10)} {num(f.current_value, 10)}  {f.skipped or ''}")
        print(f"  report: {out_dir / 'report.html'}")
    print(f"\ndashboard: jobskills dashboard --workspace {args.workspace}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
