"""``prefect --no-prompt deploy --all`` registers every deployment of prefect.yaml on a real server.

The session's temporary Prefect server gets the Kubernetes work pool ``jobskills`` built from
``infra/k8s/work-pool-template.json`` (no cluster needed to register), then the real CLI deploys
``prefect.yaml`` from the repository root, as the ``prefect-setup`` Job and the compose
``prefect-deploy`` service do. Slow: the CLI imports every flow module.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.mark.slow
def test_prefect_deploy_all_against_kubernetes_pool():
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    api = _api_url()
    probe = httpx.post(f"{api}/work_pools/filter", json={"limit": None, "offset": None}, timeout=30)
    assert probe.status_code != 422, ("this server's fastapi rejects the explicit null `limit` that prefect 3.8's "
                                      "client sends, so `prefect deploy` stops after the first deployment; "
                                      "pyproject pins fastapi<0.151 for this")
    template = json.loads((REPO / "infra" / "k8s" / "work-pool-template.json").read_text())

    async def setup_and_read(after: bool):
        async with get_client() as client:
            if not after:
                try:
                    await client.delete_work_pool("jobskills")
                except Exception:
                    pass
                await client.create_work_pool(WorkPoolCreate(name="jobskills", type="kubernetes",
                                                             base_job_template=template))
                return None
            return await client.read_deployments(limit=100, offset=0)

    asyncio.run(setup_and_read(False))
    env = dict(os.environ, PREFECT_API_URL=api)
    proc = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    deps = {d.name + "@" + d.entrypoint: d for d in asyncio.run(setup_and_read(True))}
    for d in spec:
        got = deps[d["name"] + "@" + d["entrypoint"]]
        assert got.work_pool_name == "jobskills" and got.work_queue_name == d["work_pool"]["work_queue_name"]
        assert [s.schedule.cron for s in got.schedules] == [s["cron"] for s in d.get("schedules") or []]
        assert (got.job_variables or {}) == (d["work_pool"].get("job_variables") or {})
        assert got.pull_steps == yaml.safe_load((REPO / "prefect.yaml").read_text())["pull"]
