"""The validate flow: Great Expectations suites from ``expectations/`` over the new rows in the store.

For each suite (postings, span labels, group labels) the rows still marked ``new`` are checked;
valid rows are marked ``valid`` (later stages read only those), failing rows are marked
``quarantined`` and copied to the quarantine table with the expectations they failed. Result
JSON and Data Docs HTML go to ``<data_dir>/validation/``. A blocking failure raises
``BlockingValidationError``, which fails the flow (and a parent ``retrain`` flow) with a sentence
saying which expectation stopped it; the batch's rows stay ``new`` for the next attempt.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task

from common.data.records import RunRecord, utcnow
from common.data.validation import (
    SUITES,
    BlockingValidationError,
    ValidationOutcome,
    esco_group_codes,
    validate_batch,
)
from flows.run_ids import flow_run_id

SUITE_TABLE = {"postings": ("postings", "posting_id", None), "span_labels": ("labels", "label_id", "span"),
               "group_labels": ("labels", "label_id", "group")}


def _store():
    from common.data.storage import Store

    return Store.open()


@task(name="load-batch", cache_policy=None)
def load_batch(suite: str, statuses: list[str]) -> pd.DataFrame:
    """Rows of the suite's table with one of ``statuses`` (``new`` by default)."""
    table, _, kind = SUITE_TABLE[suite]
    with _store() as store:
        return store.postings(status=statuses) if table == "postings" else store.labels(kind=kind, status=statuses)


@task(name="run-suite", cache_policy=None)
def run_suite(suite: str, df: pd.DataFrame, run_id: str) -> ValidationOutcome:
    """GX validation of one batch; writes result JSON and Data Docs under the data folder."""
    from common.core.settings import get_settings

    s = get_settings()
    params = {"esco_group_codes": esco_group_codes(s.esco_dir)} if suite == "group_labels" else {}
    return validate_batch(suite, df, parameters=params, out_dir=s.data_dir / "validation", run_id=run_id)


@task(name="apply-outcome", cache_policy=None)
def apply_outcome(suite: str, df: pd.DataFrame, outcome: ValidationOutcome, run_id: str) -> dict[str, Any]:
    """Mark rows valid/quarantined and store quarantine rows, in the store's transactions."""
    table, key, _ = SUITE_TABLE[suite]
    ids = df.reset_index(drop=True)[key].tolist()
    with _store() as store:
        store.add_quarantine(outcome.quarantine_records(df, key, table, run_id))
        store.set_status(table, [ids[i] for i in outcome.failed], "quarantined")
        store.set_status(table, [ids[i] for i in outcome.valid_rows], "valid")
    return outcome.summary()


@flow(name="validate", log_prints=True)
def validate_flow(suites: list[str] | None = None, revalidate: bool = False) -> dict[str, Any]:
    """Validate new postings and labels; returns per-suite counts (rows, valid, quarantined, ...).

    ``revalidate=True`` checks every row again (after a suite changed), not only ``new`` ones.
    Raises ``BlockingValidationError`` when a batch fails a blocking expectation.
    """
    logger = get_run_logger()
    run_id = flow_run_id()
    suites = list(suites or SUITES)
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {list(SUITES)}")
    statuses = ["new", "valid", "quarantined"] if revalidate else ["new"]
    with _store() as store:
        store.record_run(RunRecord(run_id=run_id, flow="validate", params={"suites": suites, "revalidate": revalidate}))
    report: dict[str, Any] = {"run_id": run_id}
    for suite in suites:
        df = load_batch(suite, statuses)
        if df.empty:
            report[suite] = {"suite": suite, "rows": 0, "valid": 0, "quarantined": 0, "blocked": False}
            logger.info("validate %s: nothing new", suite)
            continue
        outcome = run_suite(suite, df, run_id)
        if outcome.blocked:
            summary = outcome.summary()
            with _store() as store:
                store.record_run(RunRecord(run_id=run_id, flow="validate", status="blocked",
                                           metrics={suite: summary}, finished_at=utcnow()))
            msg = (f"validation of the {suite} batch ({outcome.n_rows} rows) stopped the pipeline: "
                   + "; ".join(outcome.block_reasons) + f". Details: {summary['docs_path'] or summary['result_path']}")
            logger.error(msg)
            raise BlockingValidationError(msg)
        report[suite] = apply_outcome(suite, df, outcome, run_id)
        logger.info("validate %s: %s valid, %s quarantined of %s", suite, report[suite]["valid"],
                    report[suite]["quarantined"], report[suite]["rows"])
    with _store() as store:
        store.record_run(RunRecord(run_id=run_id, flow="validate", status="completed",
                                   metrics={k: v for k, v in report.items() if k != "run_id"}, finished_at=utcnow()))
        store.export_parquet()
        report["data_version"] = store.data_version()
    return report
