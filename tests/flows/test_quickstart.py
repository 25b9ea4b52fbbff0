"""``jobskills quickstart`` end to end on the built-in sample (tiny BERT, two training steps),
then a second ``retrain`` on the same data: its candidates do not beat the champions and are
not promoted, and ``registry rollback`` is refused with a clear sentence when there is nothing
to roll back to.

The quickstart runs as a real ``jobskills`` process reporting to the session's Prefect test
server through ``PREFECT_API_URL`` (the "against a server" mode); typer's CliRunner would swap
stdout under Prefect's log handler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from jobskills.cli.main import app


def _jobskills(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    full = {**os.environ, **env, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    code = "from jobskills.cli.main import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=full, timeout=600
    )


def _quickstart(tmp_path, tiny_bert_dir):
    from common import registry

    env = {"BENTOML_HOME": str(tmp_path / "bentoml"), "JOBSKILLS_DATA_DIR": str(tmp_path / "data")}
    proc = _jobskills(["quickstart", "--encoder", str(tiny_bert_dir), "--steps", "2"], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    kw = registry.champion("keyword-tagger")
    grp = registry.champion("skill-groups")
    assert kw is not None and grp is not None
    assert str(kw.path) in proc.stdout and "jobskills registry list" in proc.stdout
    assert (
        kw.metadata["data_version"]
        and kw.metadata["code_version"]
        and kw.metadata["params"]["max_steps"] == 2
    )
    assert (kw.path / "tagger.json").exists() and (grp.path / "group_model.json").exists()
    reports = list((tmp_path / "data" / "reports").rglob("evaluation.json"))
    assert reports and json.loads(reports[0].read_text())["keywords"]["dev_postings"] == 6
    merge = list((tmp_path / "data" / "reports" / "merge").rglob("span_annotators.csv"))
    assert merge and "ann_spam1" in merge[0].read_text()
    return kw, grp


def test_quickstart_on_the_sample(tmp_path, monkeypatch, tiny_bert_dir):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    _quickstart(tmp_path, tiny_bert_dir)


@pytest.mark.slow
def test_quickstart_then_retrain_keeps_champion(tmp_path, monkeypatch, tiny_bert_dir):
    from common import registry
    from common.core.settings import get_settings

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(
        "JOBSKILLS_SHARED_DATA_DIR", str(tmp_path / "unused")
    )  # quickstart points it at the sample
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        kw, grp = _quickstart(tmp_path, tiny_bert_dir)
        from common.data.sample import SAMPLE_DIR

        monkeypatch.setenv("JOBSKILLS_SHARED_DATA_DIR", str(SAMPLE_DIR))
        get_settings.cache_clear()

        from common.pipeline.config import PipelineConfig, quickstart_config_path
        from flows.retrain import retrain

        cfg = PipelineConfig.from_yaml(quickstart_config_path()).with_encoder(str(tiny_bert_dir))
        cfg = cfg.model_copy(update={"keywords": cfg.keywords.model_copy(update={"max_steps": 2})})
        out = retrain(config=cfg, reason="test")  # nothing new: same data version, cached training
        for kind in ("keywords", "groups"):
            dec = out["promote"][kind]
            assert dec["promoted"] is False and "does not beat" in dec["reason"], dec
        assert registry.champion("keyword-tagger").tag == kw.tag
        assert registry.champion("skill-groups").tag == grp.tag

        res = runner.invoke(app, ["registry", "rollback", "keyword-tagger"])
        assert res.exit_code == 2 and "no earlier champion" in res.output
        res = runner.invoke(app, ["registry", "list", "--json"])
        assert res.exit_code == 0 and {m["tag"] for m in json.loads(res.output)} == {kw.tag, grp.tag}
    finally:
        get_settings.cache_clear()


def test_quickstart_rejects_a_folder_without_data(tmp_path):
    res = CliRunner().invoke(app, ["quickstart", "--data", str(tmp_path)])
    assert res.exit_code == 2 and "skillspan/train.jsonl" in res.output
