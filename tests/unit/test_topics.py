"""BERT topic model: paragraphs, fitting on a themed collection, describe, save/load, plot."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from common.topics.config import TopicConfig
from common.topics.model import TopicModel, load_topic_model, publish_latest, split_paragraphs
from topic_collection import THEMES, themed_collection

SMALL = TopicConfig(reducer="pca", n_components=5, clusterer="kmeans", n_clusters=3, min_df=1, seed=1)


def test_split_paragraphs_packs_lines_and_cuts_long_ones():
    text = "one two three\nfour five six\n\nseven eight nine ten\n" + " ".join(f"w{i}" for i in range(25)) + "\nend"
    paras = split_paragraphs(text, max_words=10, min_words=3)
    assert paras[0] == "one two three four five six"  # packed, then the blank line ends it
    assert all(len(p.split()) <= 10 for p in paras)
    assert " ".join(paras).split() == text.split()  # nothing lost, order kept
    assert paras[-1].endswith("w24 end")  # the one-word fragment joined the paragraph before it
    assert split_paragraphs("  \n\n ") == []


@pytest.fixture(scope="module")
def themed_model():
    texts, themes = themed_collection()
    return TopicModel.fit(texts, SMALL, doc_ids=[f"d{i}" for i in range(len(texts))]), texts, themes


def test_topics_recover_the_themes(themed_model):
    model, texts, themes = themed_model
    assert len(model.topics) == 3 and model.info["n_docs"] == len(texts)
    # every theme's postings land in one topic, and each topic's top words name its theme
    by_theme: dict[str, Counter] = {t: Counter() for t in THEMES}
    for doc, theme in zip(model.documents, themes, strict=True):
        by_theme[theme][doc["topic"]] += 1
    majority = {theme: c.most_common(1)[0] for theme, c in by_theme.items()}
    assert len({topic for topic, _ in majority.values()}) == 3
    assert all(n >= 7 for _, n in majority.values())
    words = {theme: set(model.topics[topic].top_words(10)) for theme, (topic, _) in majority.items()}
    assert {"nurse", "patients", "patient", "care", "nursing"} & words["nursing"]
    assert {"welding", "steel", "metal", "welder"} & words["welding"]
    assert {"software", "code", "python", "java", "developer", "developers"} & words["software"]
    assert not ({"welding", "steel"} & words["nursing"])


def test_describe_new_posting(themed_model):
    model, _, _ = themed_model
    text = ("Our hospital is looking for a nurse.\nYou care for patients after surgery.\n"
            "Free parking for staff.")
    out = model.describe([text, ""])
    assert out[1] == {"topics": [], "tags": [], "summary": []}
    d = out[0]
    assert [t["score"] for t in d["topics"]] == sorted((t["score"] for t in d["topics"]), reverse=True)
    top = model.topics[d["topics"][0]["id"]]
    assert {"nurse", "patients", "care"} & set(top.top_words(10))
    assert set(d["tags"]) <= set(top.top_words(model.config.store_words))
    assert d["tags"] and "Free parking for staff." not in d["summary"]


def test_describe_uses_given_keywords_for_tags_and_summary(themed_model):
    from common.core.types import Keyword

    model, _, _ = themed_model
    text = "We weld steel.\nYou will use TIG welding and MIG welding daily.\nNice team."
    kws = [Keyword(start=text.index(w), end=text.index(w) + len(w), text=w, type="Skill")
           for w in ("TIG welding", "MIG welding")]
    d = model.describe([text], [kws])[0]
    assert d["tags"][:2] == ["tig welding", "mig welding"]
    assert d["summary"] == ["You will use TIG welding and MIG welding daily."]
    with pytest.raises(ValueError):
        model.describe([text, text], [kws])


def test_save_load_roundtrip_and_plot(themed_model, tmp_path):
    model, _, _ = themed_model
    path = model.save(tmp_path / "run1")
    assert (path / "topic_map.png").stat().st_size > 5000
    meta = json.loads((path / "topic_model.json").read_text())
    assert len(meta["topics"]) == 3 and meta["info"]["n_paragraphs"] == len(model.map_labels)
    latest = publish_latest(path, tmp_path / "latest")
    loaded = load_topic_model(latest)
    np.testing.assert_allclose(loaded.centroids, model.centroids)
    text = "Welders cut and join metal pipes."
    assert loaded.describe([text]) == model.describe([text])
    with pytest.raises(FileNotFoundError):
        load_topic_model(tmp_path / "nothing-here")


def test_other_encoder_is_refused_and_tiny_encoder_fits(themed_model, tiny_bert_dir, tmp_path):
    model, texts, _ = themed_model
    path = model.save(tmp_path / "m")
    other = load_topic_model(path)
    other.encoder_path = str(tiny_bert_dir)  # 32-d embeddings vs 384-d centroids
    with pytest.raises(ValueError, match="encoder"):
        other.describe(["python developer"])
    tiny = TopicModel.fit(texts, SMALL.model_copy(update={"encoder": str(tiny_bert_dir)}))
    assert tiny.centroids.shape == (3, 32)
    assert len(tiny.describe(["python developer"])[0]["topics"]) == 3


def test_default_config_falls_back_on_a_tiny_collection():
    """UMAP needs more points than neighbours and HDBSCAN twice min_cluster_size: tiny inputs still fit."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 16))
    emb = np.vstack([centres[i // 6] + 0.05 * rng.normal(size=16) for i in range(12)]).astype(np.float32)
    paras = ["python code review"] * 6 + ["nurse patient care"] * 6
    model = TopicModel.fit_embeddings(paras, list(range(12)), emb, TopicConfig())
    assert model.info["clusterer"] == "kmeans" and len(model.topics) == 2
    assert {tuple(sorted(t.top_words(3))) for t in model.topics} == {("code", "python", "review"),
                                                                   ("care", "nurse", "patient")}
