"""The CUDA code paths (marked ``gpu``; deselected by default, and skipped with a reason where torch
sees no CUDA device): both keyword tiers serve torch on a GPU, train there, and decide as on CPU."""

from __future__ import annotations

import pytest
from test_tagger import tiny_cfg
from tiny_corpus import synthetic_postings

from common.keywords.tagger import KeywordTagger
from common.keywords.training import train_tagger
from common.text.spans import posting_text

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _cuda():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is false")


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_a_tagger_trains_and_serves_torch_on_cuda_like_on_cpu(tiny_bert_dir, tmp_path, tier):
    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30, device="cuda", tier=tier), synthetic_postings(12), None,
                       tmp_path / "m", progress=False)
    gpu = KeywordTagger.load(res.model_dir)  # device None: cuda when available
    assert gpu.device == "cuda" and gpu.backend == "torch" and gpu.tier == tier  # auto: torch on a GPU, never int8
    cpu = KeywordTagger.load(res.model_dir, device="cpu", backend="torch")
    texts = [posting_text(p) for p in synthetic_postings(4, seed=9)]
    key = lambda ks: [[(k.start, k.end, k.type) for k in doc] for doc in ks]  # noqa: E731
    assert key(gpu.extract(texts)) == key(cpu.extract(texts))
