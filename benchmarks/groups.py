"""Skill-group benchmark: model/feature variants x ESCO levels 1 and 2, scored on dev.

Prints one table: class-1 precision/recall/F1 over (skill, group) pairs (SkillBERT's metric;
identical to micro-F1 over skills), macro-F1 over groups, and training time. Thresholds and
tree counts are tuned on an inner split of train only; dev is never used for choices.

    nice -n 10 python benchmarks/groups.py                                   # all variants
    nice -n 10 python benchmarks/groups.py --variants ovr-minilm,skillbert-minilm
    nice -n 10 python benchmarks/groups.py --variants ovr-mirror-label --mirror-encoder .jobskills/models/mirror-bert/latest

Embeddings are cached by content hash (``settings.cache_dir``), so only the first run pays
for encoding. Mirror-BERT variants reuse ``--mirror-encoder`` when it exists, else adapt the
encoder first (its time is listed separately and added to the variant's training time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

VARIANTS: dict[str, dict] = {
    # the reference point of the issue: MiniLM embeddings of `text`, one-vs-rest LR, threshold 0.4
    "ovr-minilm": {"config": "groups-ovr.yaml"},
    # SkillBERT features + XGBoost without the 128-d embedding block
    "skillbert-minilm-noemb": {"config": "groups.yaml",
                               "set": {"features": ["nn", "name", "topk", "tfidf", "clusters", "lexical", "size"]}},
    # only the network probability and nearest-skill similarities (no clusters, TF-IDF, names, sizes)
    "skillbert-minilm-nn+topk": {"config": "groups.yaml", "set": {"features": ["nn", "topk"]}},
    # the full SkillBERT feature set + XGBoost on the off-the-shelf encoder
    "skillbert-minilm": {"config": "groups.yaml"},
    # the same with the earlier XGBoost fit: an inner split picks the threshold, one refit model predicts
    "skillbert-minilm-inner": {"config": "groups.yaml", "set": {"xgb_fit": "inner"}},
    # the two models on the Mirror-BERT-adapted encoder (seed 003), same inputs as above
    "ovr-mirror": {"config": "groups-ovr.yaml", "mirror": True},
    "skillbert-mirror": {"config": "groups.yaml", "mirror": True},
    "skillbert-mirror-inner": {"config": "groups.yaml", "mirror": True, "set": {"xgb_fit": "inner"}},
    "skillbert-mirror-noemb": {"config": "groups.yaml", "mirror": True,
                               "set": {"features": ["nn", "name", "topk", "tfidf", "clusters", "lexical", "size"]}},
    # Mirror-BERT against the same encoder without adaptation, on short inputs. These four embed the
    # skill label alone: short phrases are what Mirror-BERT adapts to and what the service sees,
    # and re-embedding 11k long ESCO texts with a second encoder costs most of an hour here.
    "ovr-minilm-label": {"config": "groups-ovr.yaml", "set": {"text_field": "label"}},
    "skillbert-minilm-label": {"config": "groups.yaml", "set": {"text_field": "label"}},
    "ovr-mirror-label": {"config": "groups-ovr.yaml", "mirror": True, "set": {"text_field": "label"}},
    "skillbert-mirror-label": {"config": "groups.yaml", "mirror": True, "set": {"text_field": "label"}},
}


def _mirror_encoder(path: Path, cfg_path: Path) -> tuple[str, float]:
    """The adapted encoder folder and its training seconds (trained now when absent)."""
    from common.text.mirror_bert import INFO_FILE, MirrorConfig, train_mirror_bert

    if (path / INFO_FILE).exists():
        return str(path), float(json.loads((path / INFO_FILE).read_text())["seconds"])
    import yaml

    from common.data import esco

    data = yaml.safe_load(cfg_path.read_text()).get("mirror") or {}
    res = train_mirror_bert(MirrorConfig.model_validate(data), esco.load_skills("train")["label"].tolist(), path)
    return str(path), res.seconds


def run(variants: list[str], mirror_dir: Path, out: Path | None, max_train: int | None, threads: int | None,
        save_dir: Path | None = None, seed: int | None = None) -> list[dict]:
    from common.data import esco
    from common.groups.config import GroupConfig
    from common.groups.training import train_groups

    train, dev = esco.load_skills("train"), esco.load_skills("dev")
    rows: list[dict] = []
    for name in variants:
        spec = VARIANTS[name]
        cfg = GroupConfig.from_yaml(ROOT / "configs" / spec["config"])
        data = {**cfg.model_dump(), **spec.get("set", {}), "name": name, "mirror": None}
        if max_train:
            data["max_train_skills"] = max_train
        if threads:
            data["threads"] = threads
        if seed is not None:
            data["seed"] = seed
        mirror_s = 0.0
        if spec.get("mirror"):
            data["encoder"], mirror_s = _mirror_encoder(mirror_dir, ROOT / "configs" / "groups-mirror.yaml")
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        res = train_groups(GroupConfig.model_validate(data), train, dev, progress=False,
                           out_dir=save_dir / name if save_dir else None)
        for level in (1, 2):
            m = res.metrics.get(f"l{level}")
            if not m or "pair_f1" not in m:
                continue
            rows.append({"variant": name, "level": level, **{k: m[k] for k in (
                "pair_precision", "pair_recall", "pair_f1", "micro_f1", "macro_f1", "samples_f1")},
                "candidate_recall": m.get("candidate_recall", 1.0), "threshold": m.get("threshold"),
                "train_s": res.seconds, "mirror_s": mirror_s})
        print(f"[{time.strftime('%H:%M:%S')}] {name}: L1 {res.metrics['l1']['micro_f1']:.3f} "
              f"L2 {res.metrics['l2']['micro_f1']:.3f} in {res.seconds:.0f}s", file=sys.stderr, flush=True)
        if out:
            out.write_text(json.dumps(rows, indent=2))
    return rows


def print_table(rows: list[dict]) -> None:
    head = ("variant", "level", "pair P", "pair R", "pair F1=micro", "macro-F1", "samples-F1", "cand. recall",
            "thr", "train s", "+mirror s")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print(f"| {r['variant']} | L{r['level']} | {r['pair_precision']:.3f} | {r['pair_recall']:.3f} | "
              f"{r['pair_f1']:.3f} | {r['macro_f1']:.3f} | {r['samples_f1']:.3f} | {r['candidate_recall']:.3f} | "
              f"{r['threshold']:.3f} | {r['train_s']:.0f} | {r['mirror_s']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list from: {', '.join(VARIANTS)}")
    ap.add_argument("--mirror-encoder", type=Path, default=None,
                    help="Mirror-BERT encoder folder (default <data_dir>/models/mirror-bert/latest).")
    ap.add_argument("--out", type=Path, default=None, help="Also write the rows as JSON here.")
    ap.add_argument("--max-train-skills", type=int, default=None, help="Debug cap on training skills.")
    ap.add_argument("--save-dir", type=Path, default=None, help="Save each variant's model under DIR/<variant>.")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch/XGBoost.")
    ap.add_argument("--seed", type=int, default=None,
                    help="Override the configs' seed (folds, networks, XGBoost, inner split): run several to see the spread.")
    ap.add_argument("--from-json", type=Path, nargs="+", default=None,
                    help="Only print the table of earlier --out files (runs split over several processes).")
    args = ap.parse_args()
    if args.from_json:
        print_table([row for p in args.from_json for row in json.loads(p.read_text())])
        return
    import logging

    from jobskills.cli._util import offline_env
    from common.core.settings import get_settings

    offline_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    mirror_dir = args.mirror_encoder or get_settings().models_dir / "mirror-bert" / "latest"
    rows = run(names, mirror_dir, args.out, args.max_train_skills, args.threads, args.save_dir, args.seed)
    print_table(rows)


if __name__ == "__main__":
    main()
