"""Prefect flows: thin wrappers that schedule ``common`` library steps as tasks.

Nothing runs at import. ``task_runner()`` picks the task runner from settings so the same flow
code runs in threads on one machine (default) or on a Dask cluster (``JOBSKILLS_TASK_RUNNER=dask``,
optionally ``JOBSKILLS_DASK_ADDRESS=tcp://scheduler:8786``).
"""

from __future__ import annotations

from typing import Any


def task_runner(settings: Any = None, max_workers: int = 4) -> Any:
    """A Prefect task runner for ``flow.with_options(task_runner=...)`` per ``settings.task_runner``."""
    if settings is None:
        from common.settings import get_settings

        settings = get_settings()
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2, "processes": True})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=max_workers)
