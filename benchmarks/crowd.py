"""Crowd-label merging on simulated crowds made from gold SkillSpan spans and ESCO groups.

Usage::

    nice -n 10 python benchmarks/crowd.py [--data ../shared/data] [--split dev] [--out reports/crowd.json]

Spans: every SkillSpan posting of the split is labelled by ``per_doc`` of seven simulated
annotators (two careful, three average, two spammers; ``common.testing.crowd_sim.default_profiles``).
Reported: strict span F1 against gold of exact-span majority vote, token majority vote, the
merge (``common.labels.span_merge.merge_spans``), the merge with 5% gold questions (scored on the other
documents), and every annotator on the documents they labelled. Groups: every ESCO skill of
the split gets ``per_doc`` labels; accuracy = merged label is one of the skill's gold groups.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def run(data: Path, split: str, per_docs: list[int], seed: int) -> dict:

    from common.labels.quality import annotator_quality
    from common.labels.spans import gold_span_frame, span_majority_vote, span_prf, token_majority_vote
    from common.labels.groups import group_accuracy, merge_groups
    from common.labels.span_merge import merge_spans
    from common.testing.crowd_sim import CrowdSimConfig, simulate_group_crowd, simulate_span_crowd
    from common.data.esco import load_skills
    from common.data.skillspan import load_skillspan

    posts = load_skillspan(split, data)
    gold = gold_span_frame(posts)
    out: dict = {"split": split, "postings": len(posts), "gold_spans": len(gold), "spans": [], "groups": []}
    for per in per_docs:
        crowd = simulate_span_crowd(posts, CrowdSimConfig(per_doc=per, seed=seed))
        t0 = time.perf_counter()
        merged = merge_spans(crowd)
        secs = time.perf_counter() - t0
        n_q = max(1, len(posts) // 20)
        qdocs = {p.doc_id for p in posts[:n_q]}
        rest = [p.doc_id for p in posts[n_q:]]
        with_gold = merge_spans(crowd, gold=gold[gold["doc_id"].isin(qdocs)])
        q = annotator_quality(crowd, gold)
        best = q.sort_values("f1").iloc[-1]
        best_docs = crowd.assignments.loc[crowd.assignments["annotator"] == best["annotator"], "doc_id"]
        out["spans"].append(
            {
                "per_doc": per,
                "majority_vote": span_prf(span_majority_vote(crowd), gold),
                "token_majority_vote": span_prf(token_majority_vote(crowd), gold),
                "merged": span_prf(merged.spans, gold),
                "merged_on_best_annotator_docs": span_prf(merged.spans, gold, best_docs),
                "merged_with_gold_questions_on_rest": span_prf(with_gold.spans, gold, rest),
                "merged_without_gold_on_rest": span_prf(merged.spans, gold, rest),
                "best_annotator": {
                    "annotator": best["annotator"],
                    "f1": best["f1"],
                    "precision": best["precision"],
                    "recall": best["recall"],
                },
                "annotators": q.round(4).to_dict(orient="records"),
                "estimated": merged.annotators.round(4).to_dict(orient="records"),
                "agreement": merged.agreement,
                "merge_seconds": round(secs, 2),
            }
        )
    skills = load_skills(split, data / "esco")
    gold_g = {r.label: list(r.groups_l2) for r in skills.itertuples() if len(r.groups_l2)}
    gs = {k: set(v) for k, v in gold_g.items()}
    for per in per_docs:
        labels = simulate_group_crowd(gold_g, CrowdSimConfig(per_doc=per, seed=seed))
        per_ann = (
            labels.assign(ok=[lab in gs[t] for t, lab in zip(labels.task, labels.label)])
            .groupby("worker")
            .ok.mean()
        )
        row = {
            "per_doc": per,
            "skills": len(gold_g),
            "best_annotator": {"annotator": per_ann.idxmax(), "accuracy": per_ann.max()},
        }
        for method in ("majority", "one_coin", "dawid_skene"):
            t0 = time.perf_counter()
            res = merge_groups(labels, method)
            row[method] = {
                "accuracy": group_accuracy(res.labels, gs),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        row["agreement"] = res.agreement
        out["groups"].append(row)
    return out


def table(res: dict) -> str:
    lines = [
        f"Spans ({res['split']}: {res['postings']} postings, {res['gold_spans']} gold spans), strict span F1",
        "| annotators/posting | exact-span MV | token MV | best annotator (own docs) | merged | merged on best's docs | gold-q merged (rest) | no-gold merged (rest) | pairwise F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["spans"]:
        lines.append(
            f"| {r['per_doc']} | {r['majority_vote']['f1']:.3f} | {r['token_majority_vote']['f1']:.3f} | "
            f"{r['best_annotator']['f1']:.3f} ({r['best_annotator']['annotator']}) | {r['merged']['f1']:.3f} | "
            f"{r['merged_on_best_annotator_docs']['f1']:.3f} | {r['merged_with_gold_questions_on_rest']['f1']:.3f} | "
            f"{r['merged_without_gold_on_rest']['f1']:.3f} | {r['agreement']['pairwise_strict_f1']:.3f} |"
        )
    lines += [
        "",
        "Groups (ESCO level 2), accuracy = merged label is a gold group",
        "| annotators/skill | MV | one-coin DS | crowd-kit full DS | best annotator | alpha |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["groups"]:
        lines.append(
            f"| {r['per_doc']} | {r['majority']['accuracy']:.3f} | {r['one_coin']['accuracy']:.3f} | "
            f"{r['dawid_skene']['accuracy']:.3f} | {r['best_annotator']['accuracy']:.3f} | {r['agreement']['alpha']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--per-doc", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res = run(args.data, args.split, args.per_doc, args.seed)
    print(table(res))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
