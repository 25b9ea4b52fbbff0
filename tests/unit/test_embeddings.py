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


def test_token_batches_keep_padding_within_the_budget():
    """Longest first; no batch pads more than the budget (a text longer than it goes alone), none
    holds more than batch_size texts, and every text is in exactly one batch."""
    from common.text.embeddings import token_batches

    lengths = [5, 70, 12, 12, 3, 128, 40, 9, 9, 9, 9, 9]
    batches = token_batches(lengths, batch_size=4, max_tokens=64)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    assert [int(i) for i in batches[0]] == [5] and [int(i) for i in batches[1]] == [1]  # 128 and 70 go alone
    for b in batches:
        assert len(b) <= 4
        longest = max(lengths[i] for i in b)
        assert len(b) == 1 or longest * len(b) <= 64
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)


def test_batching_by_tokens_gives_the_vectors_of_one_text_at_a_time(tiny_bert_dir):
    """However texts are grouped and padded, each one's vector is its own."""
    from common.text.embeddings import Encoder

    texts = TEXTS + ["a much longer sentence about building data pipelines in python with spark and kafka " * 3]
    alone = np.stack([Encoder(tiny_bert_dir).encode([t])[0] for t in texts])
    for budget in (16, 64, 10_000):
        np.testing.assert_allclose(Encoder(tiny_bert_dir, max_batch_tokens=budget).encode(texts), alone, atol=1e-5)
