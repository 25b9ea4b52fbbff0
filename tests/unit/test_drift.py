"""Drift library on small synthetic inputs: descriptors, log parsing, config, decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from drift_synth import CARE, TECH, bag_embedder, synthetic_items

from common.monitoring.descriptors import MonitoredItem, Vocabulary, cross_fitted_descriptors, describe, words
from common.monitoring.config import DriftConfig, FeatureTest
from common.monitoring.reference import build_reference, dominant_group
from common.monitoring.drift import check_drift
from common.monitoring.window import item_from_record, load_window, log_items
from common.data.request_log import log_request


def test_words_drop_numbers_punctuation_and_placeholders():
    assert words("We need <ORGANIZATION> C++ and node.js devs, 5 years!") == [
        "we", "need", "c++", "and", "node.js", "devs", "years"]


def test_describe_measures_oov_and_unknown_skills_against_training():
    vocab = Vocabulary.from_training(["python developer with sql"], ["Python", "SQL"])
    row = describe(MonitoredItem("Python developer with Rust", (("python", 0.9), ("Rust", 0.5))), vocab)
    assert row["length_words"] == 4
    assert row["oov_rate"] == pytest.approx(1 / 4)  # "rust"
    assert row["unknown_skill_share"] == pytest.approx(1 / 2)  # "rust" was never labelled
    assert row["keywords_per_posting"] == 2
    assert row["mean_confidence"] == pytest.approx(0.7)
    empty = describe(MonitoredItem("123 456"), vocab)
    assert math.isnan(empty["oov_rate"]) and math.isnan(empty["unknown_skill_share"])


def test_cross_fitted_reference_is_not_zero_by_construction():
    # Every posting has a word of its own: scored against its own vocabulary it would be 0,
    # against the other folds it is not.
    items = [MonitoredItem(f"common words here uniq{chr(97 + i)}word", (("skill" + chr(97 + i), 1.0),))
             for i in range(12)]
    rows = cross_fitted_descriptors(items, [[k for k, _ in it.keywords] for it in items], n_folds=4)
    assert len(rows) == 12
    assert all(r["oov_rate"] == pytest.approx(1 / 4) for r in rows)
    assert all(r["unknown_skill_share"] == 1.0 for r in rows)


def test_item_from_record_reads_the_services_log_shapes():
    extract = {"endpoint": "extract", "model_tag": "keyword-tagger:abc", "input": {"text": "Python and SQL"},
               "output": {"keywords": [{"start": 0, "end": 6, "text": "Python", "type": "Knowledge", "score": 0.8}]}}
    item = item_from_record(extract)
    assert item.text == "Python and SQL" and item.keywords == (("Python", 0.8),) and item.groups is None
    assert item.model_tag == "keyword-tagger:abc"
    analyze = {"endpoint": "analyze", "input": {"text": "x y", "level": 1}, "output": {"keywords": [
        {"start": 0, "end": 1, "text": "x", "type": "Skill", "score": 0.5,
         "groups": [{"code": "S1", "label": "a", "level": 1, "score": 0.2},
                    {"code": "06", "label": "b", "level": 1, "score": 0.7}]},
        {"start": 2, "end": 3, "text": "y", "type": "Skill", "score": 0.5, "groups": []}]}}
    assert item_from_record(analyze).groups == ("06",)
    assert item_from_record({"endpoint": "classify", "input": {"skills": ["a"]}, "output": {}}) is None
    assert item_from_record({"input": {"text": "  "}, "output": None}) is None


def test_load_window_filters_endpoints_and_age(tmp_path):
    logs = tmp_path / "logs"
    log_request(logs, "extract", "t", 1.0, {"text": "a posting"}, {"keywords": []})
    log_request(logs, "classify", "t", 1.0, {"skills": ["x"]}, {"results": []})
    log_items(logs, [MonitoredItem("another posting", (("sql", 0.9),), groups=("06",))], endpoint="analyze")
    (logs / "requests-2020-01-01-1.jsonl").write_text(
        '{"ts": "2020-01-01T00:00:00+00:00", "endpoint": "extract", "input": {"text": "old"}, "output": {}}\n'
        '{"broken json\n', encoding="utf-8")
    window = load_window(logs, hours=24)
    assert sorted(it.text for it in window) == ["a posting", "another posting"]
    assert [it.groups for it in window if it.text == "another posting"] == [("06",)]
    assert len(load_window(logs, hours=None)) == 3


def test_config_yaml_round_trip_and_errors(tmp_path):
    p = tmp_path / "drift.yaml"
    p.write_text("drift_share: 0.3\nfeatures:\n  oov_rate: {method: wasserstein, threshold: 0.1}\n", encoding="utf-8")
    cfg = DriftConfig.from_yaml(p)
    assert cfg.drift_share == 0.3 and cfg.features["oov_rate"].method == "wasserstein"
    with pytest.raises(FileNotFoundError):
        DriftConfig.from_yaml(tmp_path / "missing.yaml")
    p.write_text("drift_share: 2\n", encoding="utf-8")
    with pytest.raises(ValueError):
        DriftConfig.from_yaml(p)


def test_dominant_group():
    assert dominant_group(["06", "S1", "S1"]) == "S1"
    assert dominant_group(["b", "a"]) == "a"
    assert dominant_group([]) is None and dominant_group(None) is None


# -------------------------------------------------------------------- decisions on synthetic data
@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    ref_items = synthetic_items(rng, TECH, TECH[:8], 60, groups=["06", "06", "S1"])
    cfg = DriftConfig(encoder="hashing", num_threads=1, embeddings={"method": "model", "bootstrap": True})
    prof = build_reference(ref_items, [[k for k, _ in it.keywords] for it in ref_items], cfg,
                           embedder=bag_embedder(), meta={"encoder": "hashing"})
    return rng, cfg, prof


def test_same_distribution_is_not_drift(synthetic):
    rng, cfg, prof = synthetic
    out = check_drift(synthetic_items(rng, TECH, TECH[:8], 40, groups=["06", "06", "S1"]), prof, cfg,
                      embedder=bag_embedder())
    assert out.result.decided and not out.result.drift_detected, out.result.reasons
    assert {f.feature for f in out.result.features} >= {"oov_rate", "top_group", "text_embedding"}


def test_new_domain_is_drift_with_evidence(synthetic):
    rng, cfg, prof = synthetic
    out = check_drift(synthetic_items(rng, CARE, CARE[:8], 40, groups=["S3", "S2"]), prof, cfg, embedder=bag_embedder())
    res = out.result
    assert res.drift_detected and res.share_drifted >= cfg.drift_share
    drifted = set(res.drifted_features)
    assert {"oov_rate", "unknown_skill_share", "top_group", "text_embedding"} <= drifted
    oov = next(f for f in res.features if f.feature == "oov_rate")
    assert oov.current_value > oov.reference_value and oov.score < oov.threshold
    assert any(r.startswith("oov_rate") for r in res.reasons)
    assert out.snapshot is not None and out.result.notes == []


def test_model_change_is_noted_not_hidden(synthetic):
    rng, cfg, prof = synthetic
    prof2 = type(prof)(prof.descriptors, prof.embeddings, prof.vocab, prof.groups, {**prof.meta, "model_tag": "m:1"})
    window = [MonitoredItem(it.text, it.keywords, it.groups, model_tag="m:2")
              for it in synthetic_items(rng, TECH, TECH[:8], 25, groups=["06", "S1"])]
    res = check_drift(window, prof2, cfg, embedder=bag_embedder()).result
    assert len(res.notes) == 1 and "m:2" in res.notes[0] and "m:1" in res.notes[0]


def test_small_window_gives_no_decision(synthetic):
    rng, cfg, prof = synthetic
    out = check_drift(synthetic_items(rng, CARE, CARE[:8], 5), prof, cfg, embedder=bag_embedder())
    assert not out.result.decided and not out.result.drift_detected and out.snapshot is None


def test_disabled_features_are_not_tested(synthetic):
    rng, cfg, prof = synthetic
    cfg2 = cfg.model_copy(update={"features": {"length_words": FeatureTest(enabled=False)},
                                  "embeddings": cfg.embeddings.model_copy(update={"enabled": False})})
    out = check_drift(synthetic_items(rng, TECH, TECH[:8], 30), prof, cfg2, embedder=bag_embedder())
    skipped = {f.feature: f.skipped for f in out.result.features}
    assert skipped["length_words"] == "disabled" and skipped["text_embedding"] == "disabled"
    assert skipped["top_group"]  # the window carries no groups


def test_reference_profile_round_trip(synthetic, tmp_path):
    _, _, prof = synthetic
    prof.save(tmp_path / "ref")
    from common.monitoring.reference import ReferenceProfile

    back = ReferenceProfile.load(tmp_path / "ref")
    assert back.descriptors.shape == prof.descriptors.shape
    assert np.allclose(back.embeddings, prof.embeddings)
    assert back.vocab.words == prof.vocab.words and back.groups == prof.groups
    with pytest.raises(FileNotFoundError):
        ReferenceProfile.load(tmp_path / "nothing")


def test_group_codes_of_another_level_are_not_compared():
    rec = {"endpoint": "analyze", "input": {"text": "x", "level": 1}, "output": {"keywords": [
        {"text": "x", "score": 0.5, "groups": [{"code": "S1", "label": "a", "level": 1, "score": 0.9}]}]}}
    assert item_from_record(rec, group_level=1).groups == ("S1",)
    assert item_from_record(rec, group_level=2).groups is None
    assert item_from_record(rec).groups == ("S1",)


def test_skillspan_items_take_groups_from_one_batched_call(shared_data):
    from common.monitoring.window import skillspan_items
    from common.data.skillspan import load_skillspan

    postings = load_skillspan("dev", shared_data)[:3]
    calls = []

    def group_of(skills):
        calls.append(len(skills))
        return ["06" if "data" in s.lower() else ("S1" if i % 2 else None) for i, s in enumerate(skills)]

    items = skillspan_items(postings, group_of=group_of)
    assert len(calls) == 1 and calls[0] == sum(len(it.keywords) for it in items)
    assert all(it.groups is not None and len(it.groups) <= len(it.keywords) for it in items)
