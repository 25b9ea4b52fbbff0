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

from common.pipeline.kinds import KINDS
from common.pipeline.results import TrainedModel, TrainedRun
from flows.run_ids import flow_run_id

PRIMARY = {kind: mk.primary_metric for kind, mk in KINDS.items()}


@task(name="evaluate-champion", cache_policy=None)
def evaluate_champion(kind: str, dev: Any) -> dict[str, Any] | None:
    """The ``kind`` champion's metrics on ``dev`` (postings or skills); None without a champion."""
    from common import registry
    from common.pipeline.kinds import model_kind

    mk = model_kind(kind)
    info = registry.champion(mk.registry_name)
    if info is None or dev is None or not len(dev):
        return None
    return {"tag": info.tag, "metrics": mk.score(info.path, dev)}


@task(name="keyword-baselines", cache_policy=None)
def keyword_baselines(names: list[str], train_postings: list, dev_postings: list) -> dict[str, Any]:
    """Unsupervised baselines (``common.keywords.baselines``) on the same dev postings, for the report."""
    from common.keywords.baselines import make_baseline
    from common.keywords.evaluate import evaluate_keywords, flat_metrics
    from common.text.spans import posting_text

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


def _compare(kind: str, candidate: TrainedModel, dev: Any, **extra: Any) -> dict[str, Any]:
    """The candidate's training figures beside the champion re-scored on the same ``dev``."""
    cand = candidate.metrics
    champ = evaluate_champion(kind, dev)
    return {"candidate": {"model_dir": candidate.model_dir, "metrics": cand}, "champion": champ,
            "primary_metric": PRIMARY[kind], "delta": _delta(cand, champ, PRIMARY[kind]), **extra}


@flow(name="evaluate", log_prints=True)
def evaluate_flow(
    trained: TrainedRun,
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
    from common.core.settings import get_settings
    from common.data.storage import Store
    from common.labels.merge import group_training_frames, training_sets
    from common.pipeline.waiting import after_evaluate

    logger = get_run_logger()
    if hint := after_evaluate(len(trained.models)):
        logger.warning(hint)
    run_id = flow_run_id()
    with Store.open() as store:
        data = {"merged": store.merged_labels(), "postings": store.postings()}
    report: dict[str, Any] = {"run_id": run_id, "data_version": trained.data_version}
    if "keywords" in trained.models or "keywords_accurate" in trained.models:
        train, dev = training_sets(data["merged"], data["postings"])
        dev = dev[:max_dev_postings] if max_dev_postings else dev  # the slice train_tagger scored
        base = keyword_baselines(list(baselines), train, dev) if baselines and dev and train else {}
        for kind in ("keywords_accurate", "keywords"):  # each tier against its own champion
            if kind in trained.models:
                report[kind] = _compare(kind, trained.models[kind], dev, dev_postings=len(dev), baselines=base)
    if "groups" in trained.models:
        _, dev_df, _ = group_training_frames(data["merged"], "ignore")
        if max_dev_skills:  # the rows train_groups scored
            dev_df = dev_df.head(max_dev_skills).reset_index(drop=True)
        report["groups"] = _compare("groups", trained.models["groups"], dev_df, dev_skills=len(dev_df))
    if "linker" in trained.models:
        from common.linking.evaluate import load_validation

        validation = load_validation(missing_ok=True)
        report["linker"] = _compare("linker", trained.models["linker"], validation,
                                    validation_spans={k: len(v) for k, v in validation.items()})
    if "occupations" in trained.models:  # measured on held-out occupations when built; the champion's stored figures
        report["occupations"] = _compare("occupations", trained.models["occupations"], None)
    out_dir = get_settings().reports_dir / "evaluate" / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    for kind in KINDS:
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
