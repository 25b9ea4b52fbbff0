"""Batch extraction over several processes: partitions of postings on a Dask cluster.

The reading process filters the input (done ids, bad rows) and hands partitions of postings to
the cluster, a few per worker in flight at once (the input is streamed, never held whole); each
worker loads the models once (``models.cached_models``) and commits its own parts under a
partition-unique name, so resume works exactly as for one process. Bad rows are committed by the
reading process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from common.batch.config import BatchConfig
from common.batch.extract import BatchSummary, commit_part, pending_parts, quarantine_rows, set_threads
from common.batch.inputs import BadRow, Posting
from common.batch.models import RUN_LOCK, ModelPaths, cached_models
from common.batch.output import DoneState, PartWriter


def process_partition(paths: ModelPaths, postings: list[Posting], out_dir: str, cfg: BatchConfig,
                      prefix: str, return_rows: bool = False) -> dict[str, Any]:
    """Extract and commit one partition (in a worker); returns its counts (and its rows, for a
    caller that stores them)."""
    set_threads(cfg)
    models = cached_models(paths, cfg.device)
    with RUN_LOCK:
        got = commit_part(PartWriter(out_dir, prefix), models, postings, [], cfg)
    return got if return_rows else {k: v for k, v in got.items() if k != "rows"}


def run_on_dask(client: Any, rows: Iterable[Posting | BadRow], out_dir: str | Path, paths: ModelPaths,
                cfg: BatchConfig, done: DoneState, limit: int | None = None, progress: bool = True,
                total: int | None = None, in_flight_per_worker: int = 2,
                on_part: Callable[[list[dict], list[dict]], Any] | None = None) -> BatchSummary:
    """``run_batch`` with the parts extracted on the workers of ``client`` (a ``distributed.Client``)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    run = uuid.uuid4().hex[:8]
    summary = BatchSummary(models=paths.key, out_dir=str(out_dir))
    local = PartWriter(out_dir, f"{run}-q")
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    bar = tqdm(total=total, unit="posting", desc=f"extracting on {workers} Dask workers", disable=not progress,
               dynamic_ncols=True)
    t0 = time.perf_counter()
    pending = as_completed()
    n_sent = 0

    def collect(fut: Any) -> None:
        got = fut.result()
        if on_part is not None and got["rows"][0]:
            on_part(*got["rows"])
        summary.count_part(got)
        summary.seconds = time.perf_counter() - t0
        bar.update(got["postings"])
        bar.set_postfix(words_s=f"{summary.words_per_s:,.0f}", done=summary.extracted, bad=summary.quarantined)

    for todo, bad in pending_parts(rows, done, cfg.part_size, limit, summary):
        if bad:
            local.commit([], [], quarantine_rows(bad, []))
            summary.count_bad(bad)
            bar.update(len(bad))
        if todo:
            pending.add(client.submit(process_partition, paths, todo, str(out_dir), cfg, f"{run}-{n_sent:05d}",
                                      on_part is not None, pure=False))
            n_sent += 1
        while pending.count() >= workers * in_flight_per_worker:
            collect(next(pending))
    for fut in pending:
        collect(fut)
    bar.close()
    summary.seconds = time.perf_counter() - t0
    summary.save()
    return summary
