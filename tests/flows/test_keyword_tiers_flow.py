"""Both keyword tiers through the real ``retrain`` flow in Prefect: the accurate tier trains first
and enters the registry under its own name and gate; on the next run the fast tier learns from the
accurate champion, on SkillSpan-format gold plus teacher labels of real unlabelled job text; an
accurate tier whose encoder is not installed is skipped with the sentence that says how to install it.

Tiny random BERTs stand in for MiniLM and mpnet (``tier: accurate`` names the tier explicitly).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY = {"variant": "finetune", "max_length": 64, "stride": 16, "batch_size": 8, "warmup_ratio": 0.0,
        "threads": 1, "eval_each_epoch": False, "epochs": 1, "max_steps": 3, "export_onnx": False}


@pytest.fixture()
def unlabeled_slice(shared_data, tmp_path):
    """The shared data folder with the first 40 records of the real unlabelled text."""
    src = shared_data / "unlabeled" / "postings.jsonl"
    if not src.exists():
        pytest.skip(f"no unlabelled text at {src}")
    root = tmp_path / "shared"
    (root / "unlabeled").mkdir(parents=True)
    for sub in ("skillspan", "esco"):
        (root / sub).symlink_to(shared_data / sub)
    with src.open(encoding="utf-8") as fh:
        (root / "unlabeled" / "postings.jsonl").write_text("".join(next(fh) for _ in range(40)), encoding="utf-8")
    return root


def test_the_pipeline_trains_both_tiers_and_distils_the_fast_one(settings_env, monkeypatch, tmp_path, tiny_bert_dir,
                                                                 unlabeled_slice):
    from common import registry
    from common.core.settings import get_settings
    from common.data.sample import SAMPLE_DIR
    from common.keywords.tiers import tier_model_name
    from flows.retrain import retrain

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("JOBSKILLS_SHARED_DATA_DIR", str(unlabeled_slice))
    get_settings.cache_clear()
    config = {"models": ["keywords_accurate", "keywords"], "baselines": [],
              "keywords": {**TINY, "encoder": str(tiny_bert_dir)},
              "keywords_accurate": {**TINY, "encoder": str(tiny_bert_dir), "tier": "accurate", "seed": 5,
                                    "average_last_epochs": 0},
              "distill_fast": True, "distill_fraction": 0.5,
              "keyword_gate": {"margin": 0.0, "min_score": 0.0},
              "keyword_accurate_gate": {"margin": 0.0, "min_score": 0.0}}

    first = retrain(folder=str(SAMPLE_DIR / "inbox"), config=config)
    assert first["promote"]["keywords_accurate"]["promoted"] and first["promote"]["keywords"]["promoted"]
    accurate = registry.champion(tier_model_name("accurate"))
    fast = registry.champion(tier_model_name("fast"))
    assert accurate is not None and fast is not None and accurate.tag != fast.tag
    assert json.loads((accurate.path / "tagger.json").read_text())["tier"] == "accurate"
    first_fast = json.loads((Path(first["train"]["models"]["keywords"]["model_dir"]) / "tagger.json").read_text())
    assert first_fast["config"]["teacher"] is None  # no accurate champion existed when it trained

    second = retrain(skip_ingest=True, config={**config, "keywords": {**config["keywords"], "seed": 14}})
    student = json.loads((Path(second["train"]["models"]["keywords"]["model_dir"]) / "tagger.json").read_text())
    assert student["config"]["teacher"] == str(accurate.path)
    cache = Path(student["config"]["unlabeled_cache"])
    meta = json.loads((cache / "meta.json").read_text())
    assert meta["teacher"] == str(accurate.path.resolve()) and meta["passages"] > 40  # blocks of 40 postings
    assert sorted(p.name for p in cache.glob("shard-*.npz"))  # labelled half of them, kept for the next run
    assert student["tier"] == "fast"
    get_settings.cache_clear()


def test_an_accurate_tier_without_its_encoder_is_skipped_with_the_install_command(settings_env, monkeypatch,
                                                                                 tmp_path, tiny_bert_dir, caplog):
    from common.data.sample import SAMPLE_DIR
    from flows.retrain import retrain

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    config = {"models": ["keywords_accurate"], "baselines": [], "keywords_accurate": {**TINY}}  # encoder: mpnet
    out = retrain(folder=str(SAMPLE_DIR / "inbox"), config=config)
    assert "keywords_accurate" not in out["train"]["models"] and out["promote"] == {}
    assert any("skipped the accurate keyword tier" in r.getMessage() and "jobskills encoders install mpnet"
               in r.getMessage() for r in caplog.records)
