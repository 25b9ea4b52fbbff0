"""The ingest flow: URLs / a sitemap / a folder -> raw pages and clean postings in the store.

Network I/O (``fetch_page``, Prefect retries with exponential backoff on transient failures
only) and parsing (``parse_page``) are separate tasks mapped per URL, so a Dask task runner
spreads them over workers; a single ``store_batch`` task writes the store at the end (a DuckDB
file has one writer). No failure of one URL stops the flow: it becomes a quarantine row.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.tasks import exponential_backoff

from common.data.ingest import (
    Batch,
    IngestConfig,
    fetch_to_batch,
    host_slots,
    page_to_posting,
    read_folder,
    summarise,
)
from common.data.records import RawPage, RunRecord, utcnow
from common.data.scrape import (
    Fetcher,
    FetchResult,
    ScrapeConfig,
    TransientFetchError,
    read_url_list,
    sitemap_urls,
)
from flows.run_ids import flow_run_id
from flows.runners import SettingsTaskRunner


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only failures that may go away (timeouts, connection errors, 429/5xx)."""
    try:
        state.result()
    except TransientFetchError:
        return True
    except Exception:
        return False
    return False


@task(name="fetch-page", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=1),
      retry_condition_fn=_retry_transient, cache_policy=None)
def fetch_page(url: str, cfg: ScrapeConfig, not_before: float = 0.0) -> FetchResult:
    """One GET (robots.txt, rate limit, size and redirect limits); raises only on transient failures."""
    wait = not_before - time.time()
    if wait > 0:
        time.sleep(wait)
    with Fetcher(cfg) as fetcher:
        return fetcher.fetch(url, raise_transient=True)


@task(name="parse-page", cache_policy=None)
def parse_page(fetched: FetchResult | RawPage, cfg: IngestConfig, run_id: str | None) -> Batch:
    """Raw page + posting (or quarantine rows) from a fetch result or a local page."""
    if isinstance(fetched, FetchResult):
        batch = fetch_to_batch(fetched, run_id)
        if not batch.pages:
            return batch
        page = batch.pages[0]
    else:
        batch, page = Batch(pages=[fetched]), fetched
    return batch.extend(page_to_posting(page, cfg.extract, source=cfg.source if page.source == "web" else page.source,
                                        run_id=run_id))


@task(name="store-batch", cache_policy=None)
def store_batch(batch: Batch, run_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Write everything in one place; returns counts of rows received and rows newly stored."""
    from common.data.storage import Store

    counts = summarise(batch)
    with Store.open() as store:
        new = {
            "pages_new": store.add_raw_pages(batch.pages),
            "postings_new": store.add_postings(batch.postings),
            "labels_new": store.add_labels(batch.labels),
            "quarantine_new": store.add_quarantine(batch.quarantine),
        }
        counts.update(new)
        store.record_run(RunRecord(run_id=run_id, flow="ingest", status="completed", params=params,
                                   metrics=counts, finished_at=utcnow()))
        store.export_parquet()
    return counts


@flow(name="ingest", log_prints=True, task_runner=SettingsTaskRunner())  # Dask: JOBSKILLS_TASK_RUNNER
def ingest_flow(
    urls: list[str] | None = None,
    url_file: str | None = None,
    sitemap: str | None = None,
    folder: str | None = None,
    config: IngestConfig | None = None,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Ingest postings from any mix of URLs, a URL list file, a sitemap and a local folder.

    Returns the run's counts: pages/postings/labels seen, how many were new in the store,
    quarantined rows and their reasons (``fetch:http_error``, ``fetch:robots_disallowed``...).
    """
    logger = get_run_logger()
    cfg = config or (IngestConfig.from_yaml(config_path) if config_path else IngestConfig())
    run_id = flow_run_id()
    params = {"urls": len(urls or []), "url_file": url_file, "sitemap": sitemap, "folder": folder}
    todo: list[str] = list(urls or [])
    if url_file:
        todo += read_url_list(Path(url_file).read_text(encoding="utf-8").splitlines())
    if sitemap:
        with Fetcher(cfg.scrape) as fetcher:
            todo += sitemap_urls(sitemap, fetcher, max_urls=cfg.max_urls)
    todo = list(dict.fromkeys(todo))[: cfg.max_urls]
    local = read_folder(folder, cfg, run_id) if folder else Batch()
    logger.info("ingest: %d URLs, %d local pages, %d local postings", len(todo), len(local.pages), len(local.postings))

    fetch = fetch_page.with_options(
        retries=cfg.scrape.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=cfg.scrape.backoff_s) if cfg.scrape.retries else 0,
    )
    slots = host_slots(todo, cfg.scrape.min_interval_s, time.time())
    fetched = [fetch.submit(u, cfg.scrape, s) for u, s in zip(todo, slots, strict=True)]
    results: list[Any] = []
    for url, fut in zip(todo, fetched, strict=True):
        res = fut.result(raise_on_failure=False)
        if isinstance(res, TransientFetchError):  # retries exhausted: keep the last attempt
            res = res.result.model_copy(update={"attempts": cfg.scrape.retries + 1})
        elif isinstance(res, BaseException):
            res = FetchResult(url=url, ok=False, error="task_failed", detail=f"{type(res).__name__}: {res}")
        results.append(res)
    parsed = parse_page.map(results + list(local.pages), unmapped(cfg), unmapped(run_id))
    batch = Batch(postings=local.postings, labels=local.labels, quarantine=local.quarantine)
    for fut in parsed:
        batch.extend(fut.result())
    counts = store_batch(batch, run_id, params)
    logger.info("ingest done: %s", counts)
    return {"run_id": run_id, **counts}
