"""The id a flow's outputs are filed under (reports, store rows, run records): one helper for all flows.

Prefect's flow-run id when the flow runs in Prefect (so a report folder matches the run in the UI),
else ``local-<unix time>`` for a flow function called outside a run.
"""

from __future__ import annotations

import time


def flow_run_id() -> str:
    """The current Prefect flow run's id, or ``local-<seconds>`` outside a run."""
    from prefect.runtime import flow_run

    return str(flow_run.id or f"local-{int(time.time())}")
