"""Embeddings: mean pooling matches sentence-transformers, and the content-hash cache."""

from __future__ import annotations

import numpy as np
import pytest

from common.text import embeddings
from common.text.embeddings import embed_texts

TEXTS = ["python developer", "strong communication skills", "sql", "cloud testing and design of software"]


def test_embeddings_are_normalised_and_match_sentence_transformers(tiny_bert_dir):
    from sentence_transformers import SentenceTransformer

    ours = embed_texts(TEXTS, tiny_bert_dir, use_cache=False, batch_size=3)
    assert ours.shape == (4, 32)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    st = SentenceTransformer(str(tiny_bert_dir), device="cpu")  # plain HF folder -> mean pooling
    ref = st.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_cache_hit_skips_the_encoder_and_key_follows_content(tiny_bert_dir, tmp_path, monkeypatch):
    first = embed_texts(TEXTS, tiny_bert_dir, cache_dir=tmp_path)
    files = list((tmp_path / "embeddings").glob("*.npy"))
    assert len(files) == 1

    def boom(*a, **k):
        raise AssertionError("encoder loaded on a cache hit")

    monkeypatch.setattr(embeddings, "Encoder", boom)
    np.testing.assert_array_equal(embed_texts(TEXTS, tiny_bert_dir, cache_dir=tmp_path), first)
    with pytest.raises(AssertionError):
        embed_texts(TEXTS[:3] + ["sql!"], tiny_bert_dir, cache_dir=tmp_path)
    k1 = embeddings.cache_key(tiny_bert_dir, TEXTS, 128)
    assert k1 != embeddings.cache_key(tiny_bert_dir, TEXTS, 64)
    assert k1 != embeddings.cache_key(tiny_bert_dir, list(reversed(TEXTS)), 128)
