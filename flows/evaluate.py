"""The evaluate flow: score candidates and the current champions on the same dev data.

The gate must compare like with like, so the champion is re-scored on today's dev postings
(SkillSpan dev, gold labels) and dev skills (ESCO dev) instead of trusting the figures it was
registered with. The candidate's figures come from training (same dev data, same code). The
report (both sets of figures and the deltas) is written to ``<reports_dir>/evaluate/<run>/``
and next to the candidate model as ``evaluation.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

PRIMARY = {"keywords": "span_f1", "groups": "l2.micro_f1"}


def _run_id() -> str:
    import time

    from prefect.runtime import flow_run

    return str(flow_run.id or f"local-{int(time.time())}")


@task(name="evaluate-keyword-champion", cache_policy=None)
def evaluate_keyword_champion(dev_postings: list) -> dict[str, Any] | None:
    """The keyword champion's flat metrics on ``dev_postings`` (None without a champion)."""
    from common import registry
    from common.settings import get_settings
    from common.tagger import KeywordTagger, evaluate_tagger, flat_metrics

    info = registry.champion(get_settings().keyword_model_name)
    if info is None or not dev_postings:
        return None
    return {
        "tag": info.tag,
        "metrics": flat_metrics(evaluate_tagger(KeywordTagger.load(info.path), dev_postings)),
    }


@task(name="evaluate-group-champion", cache_policy=None)
def evaluate_group_champion(dev_df) -> dict[str, Any] | None:
    """The group champion's metrics on ESCO dev (None without a champion)."""
    from common import registry
    from common.groups import GroupModel, evaluate_groups
    from common.settings import get_settings

    info = registry.champion(get_settings().group_model_name)
    if info is None or dev_df is None or not len(dev_df):
        return None
    return {"tag": info.tag, "metrics": evaluate_groups(GroupModel.load(info.path), dev_df)}


@task(name="keyword-baselines", cache_policy=None)
def keyword_baselines(names: list[str], train_postings: list, dev_postings: list) -> dict[str, Any]:
    """Unsupervised baselines (``common.baselines``) on the same dev postings, for the report."""
    from common.baselines import make_baseline
    from common.keyword_eval import evaluate_keywords
    from common.spans import posting_text
    from common.tagger import flat_metrics

    out: dict[str, Any] = {}
    for name in names:
        try:
            base = make_baseline(name).fit(train_postings)
            preds = base.extract([posting_text(p) for p in dev_postings])
            out[name] = flat_metrics(evaluate_keywords(list(dev_postings), preds))
        except Exception as exc:  # a baseline is context for people, never a reason to fail the run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _delta(cand: dict[str, Any], champ: dict[str, Any] | None, primary: str) -> float | None:
    from common.registry import metric_value

    if not champ:
        return None
    return metric_value(cand, primary) - metric_value(champ["metrics"], primary)


@flow(name="evaluate", log_prints=True)
def evaluate_flow(
    trained: dict[str, Any],
    baselines: list[str] | None = None,
    max_dev_postings: int | None = None,
    max_dev_skills: int | None = None,
) -> dict[str, Any]:
    """Evaluate the candidates in ``trained`` (the train flow's result) against the champions.

    ``baselines`` (``tfidf``, ``yake``, ``keybert``) are scored on the same dev postings and
    reported next to the candidate; they do not take part in the gate. ``max_dev_postings`` /
    ``max_dev_skills`` must be the caps the candidate was trained with (``TaggerConfig.
    max_eval_postings``, ``GroupConfig.max_dev_skills``) so that both sides see the same items.
    """
    from common.label_merge import training_sets
    from common.settings import get_settings
    from common.storage import Store
    from flows.train import group_training_frames

    logger = get_run_logger()
    run_id = _run_id()
    with Store.open() as store:
        data = {"merged": store.merged_labels(), "postings": store.postings()}
    report: dict[str, Any] = {"run_id": run_id, "data_version": trained.get("data_version")}
    if "keywords" in trained:
        train, dev = training_sets(data["merged"], data["postings"])
        dev = dev[:max_dev_postings] if max_dev_postings else dev  # the slice train_tagger scored
        cand = trained["keywords"]["metrics"]
        champ = evaluate_keyword_champion(dev)
        base = keyword_baselines(list(baselines), train, dev) if baselines and dev and train else {}
        report["keywords"] = {
            "candidate": {"model_dir": trained["keywords"]["model_dir"], "metrics": cand},
            "champion": champ,
            "primary_metric": PRIMARY["keywords"],
            "delta": _delta(cand, champ, PRIMARY["keywords"]),
            "dev_postings": len(dev),
            "baselines": base,
        }
    if "groups" in trained:
        _, dev_df, _ = group_training_frames(data, "ignore")
        if max_dev_skills:  # the rows train_groups scored
            dev_df = dev_df.head(max_dev_skills).reset_index(drop=True)
        cand = trained["groups"]["metrics"]
        champ = evaluate_group_champion(dev_df)
        report["groups"] = {
            "candidate": {"model_dir": trained["groups"]["model_dir"], "metrics": cand},
            "champion": champ,
            "primary_metric": PRIMARY["groups"],
            "delta": _delta(cand, champ, PRIMARY["groups"]),
            "dev_skills": len(dev_df),
        }
    out_dir = get_settings().reports_dir / "evaluate" / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    for kind in ("keywords", "groups"):
        if kind in report:
            d = Path(report[kind]["candidate"]["model_dir"])
            (d / "evaluation.json").write_text(
                json.dumps(report[kind], indent=2, default=str), encoding="utf-8"
            )
            logger.info(
                "%s: candidate %s, champion %s, delta %s",
                kind,
                report[kind]["primary_metric"],
                (report[kind]["champion"] or {}).get("tag"),
                report[kind]["delta"],
            )
    report["report_path"] = str(out_dir / "evaluation.json")
    return report
