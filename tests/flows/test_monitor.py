"""The monitor flow end to end: request logs -> check -> workspace -> (maybe) retrain.

Windows are SkillSpan dev postings written to the request logs in the services' format, with
gold keywords as the "served" predictions (a perfect tagger, see test_drift_skillspan.py); the
reference is SkillSpan train tech with gold predictions; embeddings from a tiny random BERT.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.monitoring.window import log_items, skillspan_items


@pytest.fixture(scope="module")
def dev_windows(shared_data):
    from common.data.skillspan import load_skillspan

    dev = load_skillspan("dev", shared_data)
    return {s: skillspan_items([p for p in dev if p.source == s]) for s in ("tech", "house")}


OVERRIDES = {"num_threads": 1, "max_lines_per_text": 16, "save_html": False}


@pytest.fixture(scope="module")
def tech_reference(tiny_bert_dir, shared_data, tmp_path_factory):
    """A SkillSpan train/tech reference built once with the tiny encoder."""
    from common.monitoring.config import DriftConfig
    from common.monitoring.embedder import TextEmbedder
    from common.monitoring.checks import build_skillspan_reference

    cfg = DriftConfig(encoder=str(tiny_bert_dir), **OVERRIDES)
    ref_dir = tmp_path_factory.mktemp("reference")
    build_skillspan_reference(cfg, ref_dir, shared_data, sources=["tech"], embedder=TextEmbedder.from_config(cfg))
    return {"encoder": str(tiny_bert_dir), **OVERRIDES}, ref_dir


@pytest.fixture()
def monitor_env(settings_env, tech_reference):
    """Settings in a temp folder, plus the drift config overrides and reference folder."""
    return settings_env, *tech_reference


def _run_monitor(monitor_env, **kw):
    from flows.monitor import monitor

    _settings, overrides, ref_dir = monitor_env
    return monitor(config_overrides=overrides, reference_path=str(ref_dir), use_champion=False, **kw)


def test_tech_window_no_drift_no_retrain(monitor_env, dev_windows):
    settings = monitor_env[0]
    log_items(settings.logs_dir, dev_windows["tech"], endpoint="extract", model_tag="keyword-tagger:test")
    record = _run_monitor(monitor_env, window_hours=1)
    assert record["result"]["decided"] and not record["result"]["drift_detected"], record["summary"]
    assert record["result"]["n_current"] == len(dev_windows["tech"])
    assert record["retrain"] is None
    # Evidence on disk and in the workspace.
    saved = json.loads((Path(record["report_dir"]) / "decision.json").read_text())
    assert saved["result"] == record["result"]
    from common.monitoring.workspace import list_snapshots

    assert list_snapshots(settings.evidently_workspace, "jobskills drift") == [record["workspace"]["snapshot_id"]]


def test_drift_without_trigger_records_skip(monitor_env, dev_windows):
    settings = monitor_env[0]
    log_items(settings.logs_dir, dev_windows["house"], endpoint="analyze")
    record = _run_monitor(monitor_env, window_hours=1, trigger=False)
    assert record["result"]["drift_detected"]
    assert record["retrain"] == {"skipped": "trigger disabled"}
    assert any(r.startswith("unknown_skill_share") for r in record["result"]["reasons"])


def test_empty_logs_give_no_decision(monitor_env):
    record = _run_monitor(monitor_env, window_hours=1)
    assert record["result"]["decided"] is False and record["retrain"] is None


def test_scheduled_deployment_definition():
    from flows.monitor import deployment

    dep = deployment(cron="*/30 * * * *", window_hours=2)
    assert dep.name == "drift-monitor" and dep.parameters == {"window_hours": 2}
    assert [s.schedule.cron for s in dep.schedules] == ["*/30 * * * *"]


def test_retrain_through_a_deployment_records_the_flow_run():
    """With a deployment configured, the monitor only schedules a run (a worker executes it)."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.monitor import trigger_retrain
    from flows.retrain import retrain

    retrain.to_deployment(name="drift-test", parameters={"reason": "schedule"}).apply()
    out = trigger_retrain("drift detected: oov_rate", "retrain/drift-test", {"models": ["keywords"]})
    assert out["mode"] == "deployment" and out["deployment"] == "retrain/drift-test"

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(out["flow_run_id"])

    run = run_coro_as_sync(read())
    assert run.parameters["reason"] == "drift detected: oov_rate" and run.parameters["models"] == ["keywords"]
    assert "drift" in run.tags and run.state.is_scheduled()


def test_the_monitor_applies_log_retention_and_says_when_the_window_is_short(monitor_env, dev_windows):
    """Old days are pruned before the check, closed days gzipped and still read; a window that
    reaches past what is kept is reported."""
    import os
    from datetime import UTC, datetime, timedelta

    from common.data.log_retention import log_files

    settings = monitor_env[0]
    log_items(settings.logs_dir, dev_windows["tech"], endpoint="extract", model_tag="keyword-tagger:test")
    (today,) = log_files(settings.logs_dir, "requests")
    for days in (40, 2):  # an expired day and a closed one, in the services' file layout
        day = (datetime.now(UTC) - timedelta(days=days)).date().isoformat()
        (settings.logs_dir / f"requests-{day}-{os.getpid()}.jsonl").write_text(today.path.read_text())
    record = _run_monitor(monitor_env, window_hours=24 * 30)
    ret = record["log_retention"]
    assert ret["deleted"] == 1 and ret["compressed"] == 1
    assert [f.compressed for f in log_files(settings.logs_dir, "requests")] == [True, False]
    assert record["result"]["n_current"] == 2 * len(dev_windows["tech"])  # the gzipped day is read too
    assert "shorter" in ret["window_note"]
