"""The batch_extract flow: keywords of every stored posting the current champions have not done.

Store I/O (reading pending postings, writing results) and extraction are separate tasks, the I/O
with retries. The pending postings are cut into partitions that ``extract-partition`` maps over:
in this process by default, on a Dask cluster with ``JOBSKILLS_TASK_RUNNER=dask`` (each Dask worker
loads the models once: ``common.batch.models.cached_models``). Rows go to the store
(``extracted_postings`` / ``extracted_keywords``, DuckDB or PostgreSQL) and to Parquet parts under
``out_dir`` (default ``<data_dir>/batch``); a new champion changes the models key, so its first run
re-extracts everything and the nightly runs after it only the new postings.
"""

from __future__ import annotations

import uuid
from typing import Any

from prefect import flow, get_run_logger, task

from common.batch.config import BatchConfig
from common.batch.inputs import BadRow, Posting
from common.batch.models import ModelPaths
from flows.runners import SettingsTaskRunner


@task(name="resolve-models", cache_policy=None)
def resolve_models(links: bool, groups: bool, occupations: bool) -> ModelPaths:
    """The champion (else latest) folder of each kind and the tags they are known by."""
    from common.batch.models import default_paths

    return default_paths(use_linker=links, use_groups=groups, use_occupations=occupations)


@task(name="load-pending", retries=2, retry_delay_seconds=5, cache_policy=None)
def load_pending(models_key: str, max_chars: int, limit: int | None) -> tuple[list[Posting], list[BadRow]]:
    """Valid postings these models have not extracted (store read), and the ones refused."""
    from common.batch.inputs import postings_from_store
    from common.data.storage import Store

    todo: list[Posting] = []
    bad: list[BadRow] = []
    with Store.open() as store:
        for row in postings_from_store(store, models_key, max_chars):
            if isinstance(row, BadRow):
                bad.append(row)
            elif limit is None or len(todo) < limit:
                todo.append(row)
    return todo, bad


@task(name="extract-partition", cache_policy=None)
def extract_partition(paths: ModelPaths, postings: list[Posting], out_dir: str, cfg: BatchConfig,
                      prefix: str) -> dict[str, Any]:
    """One partition through the models, committed as a Parquet part; its rows come back for the store."""
    from common.batch.parallel import process_partition

    return process_partition(paths, postings, out_dir, cfg, prefix, return_rows=True)


@task(name="store-extractions", retries=2, retry_delay_seconds=5, cache_policy=None)
def store_extractions(results: list[dict[str, Any]], bad: list[BadRow], run_id: str) -> dict[str, int]:
    """Posting and keyword rows into the store; refused postings into its quarantine."""
    from common.batch.extract import quarantine_rows
    from common.data.records import QuarantineRecord
    from common.data.storage import Store

    posts = [r for res in results for r in res["rows"][0]]
    kws = [r for res in results for r in res["rows"][1]]
    quarantine = [QuarantineRecord(stage="batch_extract", source_table="postings",
                                   row_key=q["id"] or f"{q['source']}:{q['line']}", reason=q["reason"],
                                   row={"id": q["id"]}, run_id=run_id) for q in quarantine_rows(bad, posts)]
    with Store.open() as store:
        n_posts, n_kws = store.add_extractions(posts, kws) if posts else (0, 0)
        n_bad = store.add_quarantine(quarantine) if quarantine else 0
    return {"postings": n_posts, "keywords": n_kws, "quarantined": n_bad}


@flow(name="batch_extract", log_prints=True, task_runner=SettingsTaskRunner())  # Dask: JOBSKILLS_TASK_RUNNER
def batch_extract(out_dir: str | None = None, partition_size: int = 256, limit: int | None = None,
                  links: bool = True, groups: bool = True, occupations: bool = True, skills: bool = False
                  ) -> dict[str, Any]:
    """Extract the stored postings not yet done by the current models; returns the counts.
    ``skills``: also each posting's ESCO skills, into the Parquet parts' skills/ (not the store)."""
    from common.core.settings import get_settings
    from flows.run_ids import flow_run_id

    logger = get_run_logger()
    s = get_settings()
    out = str(out_dir or s.data_dir / "batch")
    cfg = BatchConfig(part_size=partition_size, links=links, skills=skills, groups=groups, occupations=occupations)
    paths = resolve_models(links or skills, groups, occupations)
    todo, bad = load_pending(paths.key, cfg.max_chars or s.max_text_chars, limit)
    logger.info("models %s: %d postings to extract, %d refused", dict(paths.tags), len(todo), len(bad))
    run = uuid.uuid4().hex[:8]
    parts = [todo[i:i + partition_size] for i in range(0, len(todo), partition_size)]
    futures = extract_partition.map([paths] * len(parts), parts, [out] * len(parts), [cfg] * len(parts),
                                    [f"{run}-{i:05d}" for i in range(len(parts))])
    results = [f.result() for f in futures]
    stored = store_extractions(results, bad, flow_run_id())
    summary = {"models": paths.key, "tags": dict(paths.tags), "partitions": len(parts), "out_dir": out,
               "extracted": sum(r["extracted"] for r in results), "failed": sum(r["failed"] for r in results),
               "keywords": sum(r["keywords"] for r in results), "skills": sum(r["skills"] for r in results),
               "words": sum(r["words"] for r in results),
               "refused": len(bad), "stored": stored}
    logger.info("batch_extract: %s", summary)
    return summary
