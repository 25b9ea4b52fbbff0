"""Scheduled deployments of the pipeline, served by a local process (no work pool needed).

``python -m flows.deployments`` (or ``jobskills pipeline serve-flows``) registers the deployments with
the Prefect API -- a temporary local server when ``PREFECT_API_URL`` is unset, a real one when
set -- and runs their schedules until stopped:

* ``retrain/weekly``: the full chain every Monday 03:00 UTC on the stored data plus the inbox
  folder (``JOBSKILLS_INBOX``, default ``<data_dir>/inbox``) when it exists;
* ``merge-labels/nightly``: merge new crowd labels and feedback every night at 02:00;
* ``monitor/hourly``: the drift check (``flows/monitor.py``), which starts ``retrain`` itself
  when drift is found.

On Kubernetes the same flows are deployed to a work pool instead (see ``infra/``).
"""

from __future__ import annotations

import os
from typing import Any


def build_deployments(
    config_path: str = "configs/pipeline.yaml",
    retrain_cron: str = "0 3 * * 1",
    merge_cron: str = "0 2 * * *",
    monitor_cron: str | None = "0 * * * *",
) -> list[Any]:
    """The deployment objects (``flow.to_deployment``) with their cron schedules."""
    from common.core.settings import get_settings
    from flows.merge_labels import merge_labels_flow
    from flows.retrain import retrain

    inbox = str(get_settings().inbox or get_settings().data_dir / "inbox")
    if os.path.exists(config_path):  # the served process may run from another folder
        config_path = os.path.abspath(config_path)
    deps = [
        retrain.to_deployment(
            name="weekly",
            cron=retrain_cron,
            tags=["pipeline"],
            parameters={
                "folder": inbox if os.path.isdir(inbox) else None,
                "config_path": config_path,
                "reason": "schedule",
            },
            description="Ingest the inbox, validate, merge labels, train, evaluate and promote.",
        ),
        merge_labels_flow.to_deployment(name="nightly", cron=merge_cron, tags=["pipeline"]),
    ]
    if monitor_cron:
        from flows.monitor import monitor

        deps.append(
            monitor.to_deployment(
                name="hourly",
                cron=monitor_cron,
                tags=["monitoring"],
                parameters={"retrain_deployment": "retrain/weekly"},
            )
        )
    return deps


def serve(**kwargs: Any) -> None:
    """Register the deployments and run their schedules in this process (blocks)."""
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(**kwargs))


if __name__ == "__main__":  # pragma: no cover
    serve()
