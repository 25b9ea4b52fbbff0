"""The scheduled deployments: retrain weekly, merge nightly, monitor hourly (hands retrain off)."""

from __future__ import annotations

import os


def test_deployments_have_cron_schedules_and_parameters(settings_env, tmp_path, monkeypatch):
    from flows.deployments import build_deployments

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("JOBSKILLS_INBOX", str(inbox))  # a settings field: read when settings are (re)read
    from common.core.settings import get_settings

    get_settings.cache_clear()
    deps = {d.flow_name: d for d in build_deployments(retrain_cron="15 4 * * 2")}
    assert {"retrain", "merge-labels"} <= set(deps)
    retrain = deps["retrain"]
    assert [s.schedule.cron for s in retrain.schedules] == ["15 4 * * 2"]
    assert retrain.parameters["folder"] == str(inbox) and retrain.parameters["reason"] == "schedule"
    assert os.path.isabs(retrain.parameters["config_path"]) and retrain.parameters["config_path"].endswith(
        "configs/pipeline.yaml"
    )
    assert [s.schedule.cron for s in deps["merge-labels"].schedules] == ["0 2 * * *"]
    if "monitor" in deps:
        assert deps["monitor"].parameters["retrain_deployment"] == "retrain/weekly"
    assert "monitor" not in {d.flow_name for d in build_deployments(monitor_cron=None)}
