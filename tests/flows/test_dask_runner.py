"""The ingest flow on a local Dask cluster through prefect-dask, chosen by settings alone.

A ``distributed.LocalCluster`` (in-process workers, so it starts in about a second) plays the
remote cluster: ``JOBSKILLS_TASK_RUNNER=dask`` + ``JOBSKILLS_DASK_ADDRESS`` make
the ingest flow's ``flows.runners.SettingsTaskRunner`` connect to it. The scheduler's task
stream proves the fetch and parse tasks ran on Dask workers, and the store must hold exactly
what a sequential run of the same inputs stores.
"""

from __future__ import annotations

import pytest

from common.data.ingest import IngestConfig
from common.data.scrape import ScrapeConfig
from common.data.storage import Store
from common.testing.testsite import build_site, serve

distributed = pytest.importorskip("distributed")
pytest.importorskip("prefect_dask")

POSTINGS = [
    (f"Engineer {i}", [f"Posting {i}: we need a platform engineer who automates deployments with Terraform.",
                       f"You will run Kubernetes clusters number {i} and write Python tooling for the team."],
     ["Kubernetes"])
    for i in range(5)
]


@pytest.fixture(scope="module")
def site():
    s = build_site(POSTINGS, big_bytes=1000, slow_s=0.1)
    with serve(s.routes) as (base, hits):
        yield base


@pytest.fixture()
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as c, \
            distributed.Client(c) as client:
        client.get_task_stream()  # installs the scheduler's task-stream plugin before the run
        yield c, client


def _cfg() -> IngestConfig:
    return IngestConfig(scrape=ScrapeConfig(timeout_s=2.0, min_interval_s=0.0, retries=0))


def _stored(settings) -> tuple[list[str], int]:
    with Store.open(settings) as store:
        posts = store.postings()
        return sorted(posts["title"].astype(str)), store.count("raw_pages")


def test_ingest_flow_runs_on_dask_cluster(site, cluster, settings_env, monkeypatch, tmp_path):
    from common.core.settings import get_settings
    from flows.ingest import ingest_flow
    from flows.runners import SettingsTaskRunner

    c, client = cluster
    urls = [f"{site}/jobs/{i}.html" for i in range(len(POSTINGS))] + [f"{site}/missing.html"]

    monkeypatch.setenv("JOBSKILLS_TASK_RUNNER", "dask")
    monkeypatch.setenv("JOBSKILLS_DASK_ADDRESS", c.scheduler_address)
    get_settings.cache_clear()
    assert isinstance(ingest_flow.task_runner, SettingsTaskRunner)  # so deployments honour the settings too
    out = ingest_flow(urls=urls, config=_cfg())

    stream = client.get_task_stream()
    assert len(stream) >= 2 * len(urls), f"expected fetch+parse tasks on Dask, scheduler saw {len(stream)}"
    assert out["postings_new"] == len(POSTINGS)
    assert out["reasons"] == {"fetch:http_error": 1}
    dask_titles, dask_pages = _stored(get_settings())

    # the same inputs through the default in-process runner store the same rows
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "sequential"))
    monkeypatch.setenv("JOBSKILLS_TASK_RUNNER", "sequential")
    get_settings.cache_clear()
    before = len(client.get_task_stream())
    seq = ingest_flow(urls=urls, config=_cfg())
    assert len(client.get_task_stream()) == before  # nothing went to the cluster this time
    assert seq["postings_new"] == out["postings_new"] and seq["reasons"] == out["reasons"]
    assert _stored(get_settings()) == (dask_titles, dask_pages)
    assert len(dask_titles) == len(POSTINGS)
