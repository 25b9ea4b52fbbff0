"""The ESCO linker through the pipeline in Prefect: train (build) -> evaluate -> promote, then a
second run whose candidate does not beat the champion. Tiny BERT, a slice of real ESCO."""

from __future__ import annotations

import pytest


@pytest.fixture()
def esco_slice(shared_data, tmp_path):
    from esco_slice import write_esco_slice

    return write_esco_slice(shared_data, tmp_path / "shared", max_gold=150)


def test_linker_is_built_gated_and_registered_by_the_flows(esco_slice, tmp_path, monkeypatch, tiny_bert_dir):
    from common import registry
    from common.core.settings import get_settings
    from common.linking.linker import LinkerConfig
    from flows.evaluate import evaluate_flow
    from flows.promote import promote_flow
    from flows.train import train_flow

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOBSKILLS_SHARED_DATA_DIR", str(esco_slice))
    get_settings.cache_clear()
    try:
        cfg = LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None)
        trained = train_flow(models=["linker"], linker=cfg)
        cand = trained.models["linker"]
        assert cand.kind == "linker" and cand.counts["taxonomy_skills"] == 150
        assert 0 < cand.metrics["r_at_1"] <= 1 and cand.metrics["tech"]["linkable"] > 0
        evaluation = evaluate_flow(trained)
        assert evaluation["linker"]["champion"] is None and evaluation["linker"]["primary_metric"] == "r_at_1"
        decision = promote_flow(evaluation, trained)["linker"]
        assert decision["promoted"], decision
        champ = registry.champion("esco-linker")
        assert champ is not None and (champ.path / "linker.json").exists()
        assert champ.metadata["data_version"] == trained.data_version and champ.metadata["code_version"]

        again = train_flow(models=["linker"], linker=cfg)  # same config and data: the cached candidate
        assert again.models["linker"].model_dir == cand.model_dir
        second = promote_flow(evaluate_flow(again), again)["linker"]
        assert not second["promoted"] and "does not beat" in second["reason"]
    finally:
        get_settings.cache_clear()
