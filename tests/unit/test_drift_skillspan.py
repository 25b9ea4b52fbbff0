"""The monitor's decisions on a real shift: SkillSpan tech postings vs house postings.

Reference: SkillSpan *train* tech postings. Windows: *dev* tech postings (same source, no drift
expected) and dev house postings (another source, drift expected). Predictions come from the
gold labels (a perfect tagger, confidence 1.0 — so mean confidence is constant and skipped):
prediction drift here measures the label shift, not a model's behaviour. The default tests
embed with a tiny *random* BERT (fast, but its embedding verdict carries no meaning); the slow
test uses the MiniLM encoder and also requires the embeddings to separate house from tech.
"""

from __future__ import annotations

import json

import pytest

from common.monitoring.config import DriftConfig
from common.monitoring.embedder import TextEmbedder
from common.monitoring.reference import build_reference
from common.monitoring.drift import check_drift
from common.monitoring.window import skillspan_items, training_skills


@pytest.fixture(scope="module")
def skillspan(shared_data):
    from common.data.skillspan import load_skillspan

    train, dev = load_skillspan("train", shared_data), load_skillspan("dev", shared_data)
    ref = [p for p in train if p.source == "tech"]
    return {
        "ref_postings": ref,
        "tech": skillspan_items([p for p in dev if p.source == "tech"]),
        "house": skillspan_items([p for p in dev if p.source == "house"]),
    }


def _reference(skillspan, cfg, embedder):
    ref = skillspan["ref_postings"]
    return build_reference(skillspan_items(ref), training_skills(ref), cfg, embedder=embedder)


@pytest.fixture(scope="module")
def tiny_setup(skillspan, tiny_bert_dir):
    cfg = DriftConfig(encoder=str(tiny_bert_dir), num_threads=1, max_lines_per_text=16)
    emb = TextEmbedder.from_config(cfg)
    return cfg, emb, _reference(skillspan, cfg, emb)


def test_tech_window_against_tech_reference_is_not_drift(skillspan, tiny_setup):
    cfg, emb, prof = tiny_setup
    res = check_drift(skillspan["tech"], prof, cfg, embedder=emb).result
    assert res.decided and not res.drift_detected, res.reasons
    descriptors = {f.feature: f for f in res.features if f.kind != "embedding"}
    assert not any(f.drifted for f in descriptors.values()), res.reasons
    assert descriptors["mean_confidence"].skipped  # gold predictions: constant 1.0


def test_house_window_against_tech_reference_is_drift(skillspan, tiny_setup, tmp_path):
    cfg, emb, prof = tiny_setup
    from common.monitoring.workspace import dashboard_panels, list_snapshots
    from common.monitoring.checks import run_check

    res, out_dir = run_check(skillspan["house"], prof, cfg, tmp_path / "reports", tmp_path / "ws", embedder=emb)
    assert res.drift_detected and res.share_drifted >= cfg.drift_share
    ev = {f.feature: f for f in res.features}
    for name in ("oov_rate", "unknown_skill_share"):  # house postings use words/skills tech never had
        assert ev[name].drifted and ev[name].current_value > ev[name].reference_value, ev[name]
    assert ev["keywords_per_posting"].drifted
    # Evidence kept: decision JSON, HTML report, a snapshot and the dashboard in the workspace.
    record = json.loads((out_dir / "decision.json").read_text())
    assert record["result"]["drift_detected"] is True and record["workspace"]["snapshot_id"]
    assert (out_dir / "report.html").stat().st_size > 10_000
    assert list_snapshots(tmp_path / "ws", cfg.project_name) == [record["workspace"]["snapshot_id"]]
    assert "Embedding drift (encoder embeddings)" in dashboard_panels(tmp_path / "ws", cfg.project_name)


@pytest.mark.slow
def test_minilm_embeddings_separate_house_from_tech(skillspan):
    cfg = DriftConfig(num_threads=1)  # the configured encoder (MiniLM by default)
    emb = TextEmbedder.from_config(cfg)
    prof = _reference(skillspan, cfg, emb)
    house = check_drift(skillspan["house"], prof, cfg, embedder=emb).result
    tech = check_drift(skillspan["tech"], prof, cfg, embedder=emb).result
    h = next(f for f in house.features if f.feature == "text_embedding")
    t = next(f for f in tech.features if f.feature == "text_embedding")
    assert house.drift_detected and not tech.drift_detected
    assert h.drifted and h.score > t.score
