"""The dashboard: `jobskills dashboard` serves the workspace, and every panel finds its metric."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from procs import free_port
from drift_synth import CARE, TECH, bag_embedder, synthetic_items
from typer.testing import CliRunner

from common.monitoring.config import DriftConfig
from common.monitoring.reference import build_reference
from common.monitoring.workspace import PANELS
from common.monitoring.checks import run_check


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A workspace with two checks (one calm, one drifted), an hour apart."""
    root = tmp_path_factory.mktemp("dash")
    rng = np.random.default_rng(1)
    cfg = DriftConfig(encoder="hashing", num_threads=1, save_html=False)
    ref = synthetic_items(rng, TECH, TECH[:8], 60, groups=["06", "S1"])
    prof = build_reference(ref, [[k for k, _ in it.keywords] for it in ref], cfg, embedder=bag_embedder(),
                           meta={"encoder": "hashing"})
    t0 = datetime.now(UTC) - timedelta(hours=2)
    calm, _ = run_check(synthetic_items(rng, TECH, TECH[:8], 30, groups=["06", "S1"]), prof, cfg, root / "reports",
                        root / "ws", embedder=bag_embedder(), timestamp=t0)
    drift, _ = run_check(synthetic_items(rng, CARE, CARE[:8], 30, groups=["S3"]), prof, cfg, root / "reports",
                         root / "ws", embedder=bag_embedder(), timestamp=t0 + timedelta(hours=1))
    assert not calm.drift_detected and drift.drift_detected
    return root / "ws", cfg


def test_dashboard_serves_panels_with_data(workspace):
    ws, cfg = workspace
    port = free_port()
    env = {**os.environ, "JOBSKILLS_DATA_DIR": str(ws.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobskills.cli.main", "dashboard", "--workspace", str(ws), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        projects = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"{base}/projects", timeout=2)
                if r.status_code == 200:
                    projects = r.json()
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert projects is not None, proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
        (project,) = [p for p in projects if p["name"] == cfg.project_name]
        dash = httpx.get(f"{base}/v2/dashboards/{project['id']}", timeout=10).json()
        tabs = {t["title"]: t["panels"] for t in dash["tabs"]}
        assert set(tabs) == {tab for tab, *_ in PANELS}
        for ids in tabs.values():
            assert len(ids) == len(set(ids))  # no panel drawn twice
        assert len(dash["panels"]) == len(PANELS)
        # Every panel's metrics resolve to one value per check.
        unique = {(m, tuple(sorted(labels.items()))) for *_, values, _ in PANELS for m, labels, _ in values}
        filters = [{"tags": [], "metadata": {}, "metric": f"evidently:metric_v2:{m}", "metric_labels": dict(labels)}
                   for m, labels in sorted(unique)]
        data = httpx.post(f"{base}/v2/snapshots/{project['id']}/data_series_batch",
                          json={"series_filter": filters}, timeout=30).json()
        assert len(data["sources"]) == 2
        found = {s["filter_index"] for s in data["series"] if len(s["values"]) == 2}
        missing = [filters[i] for i in range(len(filters)) if i not in found]
        assert not missing, missing
        assert {tuple(s["tags"]) for s in data["sources"]} == {("no-drift",), ("drift",)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_cli_errors_are_one_sentence(tmp_path, monkeypatch):
    from jobskills.cli.main import app

    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path))
    from common.core.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()

    def said(r) -> str:  # rich wraps long lines
        return " ".join(r.output.split())

    r = runner.invoke(app, ["dashboard", "--workspace", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no Evidently workspace" in said(r)
    r = runner.invoke(app, ["monitor", "--config", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "does not exist" in said(r)
    r = runner.invoke(app, ["monitor", "--hours", "-1"])
    assert r.exit_code == 2 and "--hours must be positive" in said(r)
    get_settings.cache_clear()


def test_retrain_summary_lines():
    from jobskills.cli.monitoring import retrain_summary

    assert retrain_summary(None) == "retrain: not started"
    assert retrain_summary({"skipped": "trigger disabled"}) == "retrain: trigger disabled"
    out = retrain_summary({"mode": "subflow", "result": {"promote": {"keywords": {
        "promoted": False, "tag": None, "reason": "span_f1=0.0160 does not beat champion"}}}})
    assert out.splitlines() == ["retrain: ran as a sub-flow",
                                "  keywords: not promoted (span_f1=0.0160 does not beat champion)"]
