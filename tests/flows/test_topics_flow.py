"""The topics flow: refits topics on the stored valid postings, publishes `latest`, records the run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from common.data.records import PostingRecord
from common.data.storage import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from topic_collection import themed_collection  # noqa: E402

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "topics_small.yaml")


def test_topics_flow_on_stored_postings(settings_env):
    from common.topics.model import default_model_path, load_topic_model
    from flows.topics import topics_flow

    texts, _ = themed_collection(per_theme=6)
    with Store.open(settings_env) as store:
        store.add_postings([PostingRecord(text=t, posting_id=f"p{i}", status="valid") for i, t in enumerate(texts)]
                           + [PostingRecord(text="Not validated yet: a baker for bread.", posting_id="new1")])
    out = topics_flow(config_path=CONFIG)
    assert out["n_docs"] == len(texts) and out["n_topics"] == 4  # configs/topics_small.yaml: k-means, k=4
    latest = default_model_path()
    assert latest.is_dir() and (latest / "topic_map.png").exists()
    assert Path(out["model_dir"]).parent == latest.parent
    model = load_topic_model()
    assert {d["doc_id"] for d in model.documents} == {f"p{i}" for i in range(len(texts))}  # "new" left out
    d = model.describe(["A nurse cares for patients on the ward."])[0]
    assert d["topics"] and d["summary"]
    with Store.open(settings_env) as store:
        run = store.runs(flow="topics").iloc[-1]
    assert run["status"] == "completed"
    metrics = run["metrics"] if isinstance(run["metrics"], dict) else json.loads(run["metrics"])
    assert metrics["n_docs"] == len(texts) and metrics["model_dir"] == out["model_dir"]


def test_topics_flow_refuses_too_few_postings(settings_env):
    from flows.topics import topics_flow

    with pytest.raises(ValueError, match="at least"):
        topics_flow(texts=["only one posting"], config_path=CONFIG)
