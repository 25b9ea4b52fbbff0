"""The stored reference follows the serving champion: its predictions, rebuilt when it changes.

Uses the built-in sample (14 training postings) so the champion tagger (a tiny BERT trained
for one step) can label the training texts in seconds. The second champion is registered with
metrics given directly: this test is about the reference following the champion, not the gate
(tests/flows/test_monitor_retrain.py covers the gate).
"""

from __future__ import annotations

import pytest
from drift_synth import bag_embedder


@pytest.fixture()
def registry_home(settings_env, monkeypatch, tmp_path):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    return settings_env


def test_reference_uses_and_follows_the_champion(registry_home, tiny_bert_dir, tmp_path):
    from common import registry
    from common.monitoring.config import DriftConfig
    from common.monitoring.reference import ReferenceProfile
    from common.monitoring.checks import champion_tagger, ensure_reference
    from common.data.sample import SAMPLE_DIR
    from common.data.skillspan import load_skillspan
    from common.keywords.config import TaggerConfig
    from common.keywords.training import train_tagger

    name = registry_home.keyword_model_name
    cfg = DriftConfig(encoder="hashing", num_threads=1)
    embed = bag_embedder()
    ref_dir = tmp_path / "reference"
    assert champion_tagger() == (None, None)
    gold = ensure_reference(cfg, ref_dir, SAMPLE_DIR, embedder=embed)
    assert gold.meta["predictions"] == "gold" and gold.meta["model_tag"] is None

    train = load_skillspan("train", SAMPLE_DIR)
    res = train_tagger(TaggerConfig(encoder=str(tiny_bert_dir), max_length=64, stride=16, max_steps=1,
                                    eval_each_epoch=False, threads=1), train[:4], train[:2], tmp_path / "m1",
                       progress=False)
    first = registry.register_and_gate(name, res.model_dir, {"span_f1": 0.1}, "span_f1")
    assert first.promoted
    prof = ensure_reference(cfg, ref_dir, SAMPLE_DIR, embedder=embed)
    assert prof.meta["model_tag"] == first.tag and prof.meta["predictions"] == first.tag
    # Predictions now come from the tagger (its confidences), not from the gold labels (all 1.0).
    assert prof.descriptors["mean_confidence"].dropna().lt(1.0).any() or prof.descriptors[
        "keywords_per_posting"].tolist() != gold.descriptors["keywords_per_posting"].tolist()
    assert ReferenceProfile.load(ref_dir).meta["model_tag"] == first.tag
    again = ensure_reference(cfg, ref_dir, SAMPLE_DIR, embedder=embed)
    assert again.meta["created"] == prof.meta["created"]  # reused, not rebuilt

    second = registry.register_and_gate(name, res.model_dir, {"span_f1": 0.5}, "span_f1")
    assert second.promoted and second.tag != first.tag
    rebuilt = ensure_reference(cfg, ref_dir, SAMPLE_DIR, embedder=embed)
    assert rebuilt.meta["model_tag"] == second.tag


def test_reference_with_group_predictions(tmp_path):
    from common.monitoring.config import DriftConfig
    from common.monitoring.reference import ReferenceProfile
    from common.monitoring.checks import build_skillspan_reference
    from common.data.sample import SAMPLE_DIR

    cfg = DriftConfig(encoder="hashing", num_threads=1, group_level=1)
    build_skillspan_reference(cfg, tmp_path / "ref", SAMPLE_DIR, embedder=bag_embedder(),
                              group_of=lambda skills: ["06" if len(s) % 2 else "S4" for s in skills],
                              group_model_tag="skill-groups:x")
    prof = ReferenceProfile.load(tmp_path / "ref")
    assert prof.meta["group_model_tag"] == "skill-groups:x" and prof.meta["group_level"] == 1
    assert prof.groups is not None and set(prof.groups) <= {"06", "S4", None} and len(prof.groups) == 14


def test_shipped_config_is_the_default():
    from pathlib import Path

    from common.monitoring.config import DriftConfig

    path = Path(__file__).resolve().parents[2] / "configs" / "drift.yaml"
    assert DriftConfig.from_yaml(path) == DriftConfig()
