"""The parent ``retrain`` flow: ingest -> validate -> merge labels -> train -> evaluate -> promote.

Each stage is its own flow (visible as a sub-flow run in the Prefect UI) and each is a thin
wrapper over ``common``. Without ``PREFECT_API_URL`` Prefect runs in local ephemeral mode
(SQLite under ``PREFECT_HOME``); with it, runs are reported to that server. Drift monitoring
(``flows/monitor.py``) calls this flow with a ``reason``; scheduled runs come from
``flows/deployments.py``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from common.pipeline.config import PipelineConfig


def _load_config(
    config: PipelineConfig | dict[str, Any] | None, config_path: str | None, encoder: str | None
) -> PipelineConfig:
    if isinstance(config, PipelineConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = PipelineConfig.model_validate(config)
    elif config_path:
        cfg = PipelineConfig.from_yaml(config_path)
    else:
        cfg = PipelineConfig()
    return cfg.with_encoder(encoder)


@flow(name="retrain", log_prints=True)
def retrain(
    folder: str | None = None,
    urls: list[str] | None = None,
    sitemap: str | None = None,
    config_path: str | None = None,
    config: PipelineConfig | dict[str, Any] | None = None,
    encoder: str | None = None,
    models: list[str] | None = None,
    skip_ingest: bool = False,
    include_feedback: bool = True,
    reason: str = "manual",
) -> dict[str, Any]:
    """Run the whole chain; returns each stage's summary and the promotion decisions.

    With nothing to ingest (no folder/urls/sitemap, or ``skip_ingest``) the chain starts at
    validation, so a retrain triggered by drift or new feedback works on what is stored.
    """
    from flows.evaluate import evaluate_flow
    from flows.ingest import ingest_flow
    from flows.merge_labels import merge_labels_flow
    from flows.promote import promote_flow
    from flows.train import train_flow
    from flows.validate import validate_flow

    logger = get_run_logger()
    cfg = _load_config(config, config_path, encoder)
    wanted = list(models or cfg.models)
    out: dict[str, Any] = {"reason": reason, "models": wanted}
    logger.info("retrain (%s): models %s", reason, wanted)
    if not skip_ingest and (folder or urls or sitemap):
        out["ingest"] = ingest_flow(urls=urls, folder=folder, sitemap=sitemap)
    out["validate"] = validate_flow()
    out["merge"] = merge_labels_flow(config=cfg.merge, include_feedback=include_feedback)
    trained = train_flow(
        models=wanted, keywords=cfg.keywords, groups=cfg.groups, crowd_groups=cfg.crowd_groups, linker=cfg.linker,
        occupations=cfg.occupations, keywords_accurate=cfg.keywords_accurate, distill_fast=cfg.distill_fast,
        distill_fraction=cfg.distill_fraction,
    )
    out["train"] = trained.model_dump(mode="json")
    evaluation = evaluate_flow(
        trained,
        baselines=cfg.baselines,
        max_dev_postings=cfg.keywords.max_eval_postings,
        max_dev_skills=cfg.groups.max_dev_skills,
    )
    out["evaluate"] = evaluation
    out["promote"] = promote_flow(
        evaluation, trained, keyword_gate=cfg.keyword_gate, group_gate=cfg.group_gate, linker_gate=cfg.linker_gate,
        occupation_gate=cfg.occupation_gate, keyword_accurate_gate=cfg.keyword_accurate_gate,
    )
    for kind, dec in out["promote"].items():
        logger.info(
            "%s: %s (%s)",
            kind,
            "promoted " + str(dec["tag"]) if dec["promoted"] else "not promoted",
            dec["reason"],
        )
    return out


retrain_flow = retrain
