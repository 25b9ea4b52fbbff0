"""The merge-labels flow: labels by annotator (and user feedback) -> merged labels in the store.

A thin wrapper over ``common.labels.merge``: read the valid labels, read feedback JSONL from
``settings.feedback_dir``, merge, write ``merged_labels`` and the agreement/annotator reports
under ``<reports_dir>/merge/<run id>/``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from common.labels.config import MergeConfig
from flows.run_ids import flow_run_id


@task(name="load-labels", cache_policy=None)
def load_labels():
    from common.data.storage import Store

    with Store.open() as store:
        return store.labels(status="valid")


@task(name="load-feedback", cache_policy=None)
def load_feedback() -> list[dict[str, Any]]:
    from common.core.settings import get_settings
    from common.data.request_log import iter_jsonl

    return list(iter_jsonl(get_settings().feedback_dir, "feedback"))


@task(name="merge", cache_policy=None)
def merge(labels, feedback: list[dict[str, Any]], cfg: MergeConfig, run_id: str):
    from common.labels.merge import merge_store_labels

    return merge_store_labels(labels, cfg, feedback=feedback, run_id=run_id)


@task(name="store-merged", cache_policy=None)
def store_merged(outcome, run_id: str) -> dict[str, Any]:
    from common.core.settings import get_settings
    from common.data.records import RunRecord, utcnow
    from common.data.storage import Store

    paths = outcome.save_reports(get_settings().reports_dir / "merge" / run_id)
    with Store.open() as store:
        n = store.add_merged_labels(outcome.span_records + outcome.group_records)
        store.record_run(
            RunRecord(
                run_id=run_id,
                flow="merge-labels",
                status="completed",
                metrics={k: v for k, v in outcome.report.items() if k != "config"},
                finished_at=utcnow(),
            )
        )
        version = store.data_version()
    return {"stored": n, "reports": {k: str(v) for k, v in paths.items()}, "data_version": version}


@flow(name="merge-labels", log_prints=True)
def merge_labels_flow(config: MergeConfig | None = None, include_feedback: bool = True) -> dict[str, Any]:
    """Merge every valid label (and feedback); returns counts, agreement and report paths."""
    logger = get_run_logger()
    cfg = config or MergeConfig()
    run_id = flow_run_id()
    labels = load_labels()
    feedback = load_feedback() if include_feedback else []
    outcome = merge(labels, feedback, cfg, run_id)
    stored = store_merged(outcome, run_id)
    rep = outcome.report
    logger.info(
        "merged %d span sentences and %d skills (%s); agreement %s",
        rep.get("span_records", 0),
        rep.get("group_records", 0),
        rep.get("spans", {}).get("spammers"),
        rep.get("spans", {}).get("agreement"),
    )
    return {"run_id": run_id, **{k: v for k, v in rep.items() if k != "config"}, **stored}
