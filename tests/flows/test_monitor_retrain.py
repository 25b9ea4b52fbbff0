"""Detected drift starts the real ``retrain`` flow, and a worse candidate is not promoted.

Champion: a small tagger fine-tuned on the built-in sample's gold labels with a tiny BERT whose
vocabulary covers the sample (span F1 about 0.35 on the sample dev set), registered through the
normal gate. Drift: SkillSpan dev *house* postings in the request logs against a SkillSpan train
*tech* reference (gold predictions, tiny random BERT embeddings; see test_drift_skillspan.py).
The drift-triggered retrain ingests the sample inbox and trains a deliberately crippled candidate
(one optimiser step at lr 1e-6); its gate must refuse it and keep the champion.
"""

from __future__ import annotations

import pytest

from common.monitoring.window import log_items, skillspan_items


@pytest.fixture(scope="module")
def sample_bert(make_tiny_bert):
    """A tiny random BERT whose WordPiece vocabulary holds every word of the sample postings."""
    from common.data.sample import SAMPLE_DIR
    from common.data.skillspan import load_skillspan

    words = sorted({t.lower() for split in ("train", "dev") for p in load_skillspan(split, SAMPLE_DIR)
                    for s in p.sentences for t in s.tokens})
    return make_tiny_bert(words)


def _tagger_cfg(encoder, **kw):
    base = {"encoder": str(encoder), "variant": "finetune", "max_length": 64, "stride": 16, "batch_size": 8,
            "warmup_ratio": 0.0, "threads": 1, "eval_each_epoch": False}
    return {**base, **kw}


def test_drift_starts_retrain_and_worse_candidate_is_refused(settings_env, monkeypatch, tmp_path, shared_data,
                                                            tiny_bert_dir, sample_bert):
    from common import registry
    from common.monitoring.config import DriftConfig
    from common.monitoring.embedder import TextEmbedder
    from common.monitoring.checks import build_skillspan_reference
    from common.data.sample import SAMPLE_DIR
    from common.data.skillspan import load_skillspan
    from common.keywords.config import TaggerConfig
    from common.keywords.training import train_tagger

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    settings = settings_env
    name = settings.keyword_model_name

    # 1. A champion, through the normal gate (no champion yet -> first champion).
    train, dev = load_skillspan("train", SAMPLE_DIR), load_skillspan("dev", SAMPLE_DIR)
    good = train_tagger(TaggerConfig(**_tagger_cfg(sample_bert, epochs=20, lr=3e-3, head_lr=3e-3)), train, dev,
                        tmp_path / "good", progress=False)
    first = registry.register_and_gate(name, good.model_dir, good.metrics, "span_f1", metadata={"source": "test"})
    assert first.promoted, first.reason
    champion_tag = registry.champion(name).tag
    assert good.metrics["span_f1"] > 0.1  # a champion worth keeping

    # 2. Served house postings; tech reference.
    drift_cfg = {"encoder": str(tiny_bert_dir), "num_threads": 1, "max_lines_per_text": 16, "save_html": False}
    cfg = DriftConfig(**drift_cfg)
    build_skillspan_reference(cfg, tmp_path / "reference", shared_data, sources=["tech"],
                              embedder=TextEmbedder.from_config(cfg))
    house = [p for p in load_skillspan("dev", shared_data) if p.source == "house"]
    log_items(settings.logs_dir, skillspan_items(house), endpoint="extract", model_tag=champion_tag)

    # 3. The monitor detects drift and runs the retrain flow with a crippled candidate.
    from flows.monitor import monitor

    bad = _tagger_cfg(sample_bert, epochs=1, max_steps=1, lr=1e-6, head_lr=1e-6)
    record = monitor(config_overrides=drift_cfg, reference_path=str(tmp_path / "reference"), use_champion=False,
                     window_hours=1, retrain_parameters={
                         "folder": str(SAMPLE_DIR / "inbox"), "models": ["keywords"],
                         "config": {"models": ["keywords"], "keywords": bad,
                                    "keyword_gate": {"margin": 0.0, "min_score": 0.0}}})
    assert record["result"]["drift_detected"], record["summary"]
    retrain = record["retrain"]
    assert retrain["mode"] == "subflow" and retrain["reason"].startswith("drift detected: ")
    assert "unknown_skill_share" in retrain["reason"]
    out = retrain["result"]
    assert out["reason"] == retrain["reason"]  # the retrain run knows why it ran
    decision = out["promote"]["keywords"]
    assert decision["promoted"] is False, decision
    assert decision["champion_before"] == champion_tag
    assert decision["candidate"] < decision["champion_value"]  # worse, not merely equal
    assert registry.champion(name).tag == champion_tag  # still serving the old champion
    # The evidence and the retrain outcome are recorded together.
    import json
    from pathlib import Path

    saved = json.loads((Path(record["report_dir"]) / "decision.json").read_text())
    assert saved["retrain"]["result"]["promote"]["keywords"]["promoted"] is False
