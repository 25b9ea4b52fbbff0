"""Task runner selection: the same flow code on one machine (default) or on a Dask cluster.

``JOBSKILLS_TASK_RUNNER=sequential`` (default) keeps every task in the flow's own process, in
Prefect's thread pool with ``max_workers`` threads (1 = strictly one task after another).
``JOBSKILLS_TASK_RUNNER=dask`` hands submitted and mapped tasks to ``prefect_dask.DaskTaskRunner``:
to the scheduler at ``JOBSKILLS_DASK_ADDRESS`` (``tcp://dask-scheduler:8786``) when set, else to a
temporary ``distributed.LocalCluster`` started for the flow run and closed after it.

Two ways to use it:

* ``flow.with_options(task_runner=task_runner())`` where the caller builds the flow object
  (CLI commands, tests);
* ``@flow(task_runner=SettingsTaskRunner())`` in a flow module, so that a deployment started by a
  worker picks the runner from the worker's environment at run time. Constructing it reads no
  settings and starts nothing, so importing a flow module stays free of side effects.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

#: Local Dask cluster used when ``task_runner == "dask"`` and no ``dask_address`` is set: a few
#: worker processes, so CPU-bound parsing and batch inference escape the GIL.
DEFAULT_CLUSTER_KWARGS: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 2, "processes": True}


def task_runner(
    settings: Any = None,
    *,
    max_workers: int | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
) -> TaskRunner:
    """The task runner that ``settings.task_runner`` asks for (``get_settings()`` when omitted).

    ``max_workers`` sizes the in-process thread pool (Prefect's default when None);
    ``cluster_kwargs`` replaces :data:`DEFAULT_CLUSTER_KWARGS` for a temporary local cluster.
    """
    if settings is None:
        from common.core.settings import get_settings

        settings = get_settings()
    kind = getattr(settings, "task_runner", "sequential")
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # pragma: no cover - prefect-dask is a runtime dependency
            raise RuntimeError("task_runner='dask' needs prefect-dask: pip install prefect-dask") from exc
        address = getattr(settings, "dask_address", None)
        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs=dict(cluster_kwargs or DEFAULT_CLUSTER_KWARGS))
    if kind != "sequential":
        raise ValueError(f"unknown task runner {kind!r}: use 'sequential' or 'dask'")
    return ThreadPoolTaskRunner(max_workers=max_workers)


class SettingsTaskRunner(TaskRunner):
    """A task runner that decides between thread pool and Dask when a flow run starts.

    Prefect duplicates a flow's task runner for every run and enters it as a context manager;
    this class resolves :func:`task_runner` at that moment (from the settings of the process that
    runs the flow, e.g. a Kubernetes job pod) and forwards ``submit``/``map`` to the result.
    """

    def __init__(self, max_workers: int | None = None, cluster_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.max_workers = max_workers
        self.cluster_kwargs = cluster_kwargs
        self.inner: TaskRunner | None = None

    def duplicate(self) -> SettingsTaskRunner:
        return type(self)(max_workers=self.max_workers, cluster_kwargs=self.cluster_kwargs)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SettingsTaskRunner) and other.max_workers == self.max_workers
                and other.cluster_kwargs == self.cluster_kwargs)

    __hash__ = None  # type: ignore[assignment]  # mutable; equality only for Prefect's option checks

    def _require(self) -> TaskRunner:
        if self.inner is None or not self._started:
            raise RuntimeError("The task runner must be started before submitting work.")
        return self.inner

    def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None,
               dependencies: Any = None) -> Any:
        return self._require().submit(task, parameters, wait_for=wait_for, dependencies=dependencies)

    def map(self, task: Any, parameters: dict[str, Any], wait_for: Any = None) -> Any:
        return self._require().map(task, parameters, wait_for=wait_for)

    def cancel_all(self) -> None:
        """Forwarded so that cancelling a flow run cancels pending tasks on the chosen runner."""
        cancel = getattr(self.inner, "cancel_all", None)
        if callable(cancel):
            cancel()

    def __enter__(self) -> SettingsTaskRunner:
        self.inner = task_runner(max_workers=self.max_workers, cluster_kwargs=self.cluster_kwargs)
        self.inner.__enter__()
        self.logger.info("task runner: %s", self.inner.name)
        return super().__enter__()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        try:
            if self.inner is not None:
                self.inner.__exit__(exc_type, exc_value, traceback)
        finally:
            self.inner = None
            super().__exit__(exc_type, exc_value, traceback)
