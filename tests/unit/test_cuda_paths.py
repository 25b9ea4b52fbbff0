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


def test_the_encoder_batches_whole_on_a_gpu_and_gives_the_cpu_vectors(tiny_bert_dir):
    """On a GPU the token budget is the whole batch (no CPU-sized batches), and the vectors are the CPU's."""
    import numpy as np

    from common.text.embeddings import Encoder

    texts = ["python developer", "sql", "a longer sentence about data pipelines in python " * 4]
    gpu, cpu = Encoder(tiny_bert_dir, device="cuda"), Encoder(tiny_bert_dir, device="cpu")
    assert gpu.device == "cuda"
    np.testing.assert_allclose(gpu.encode(texts), cpu.encode(texts), atol=1e-4)


def test_the_linker_queries_torch_on_a_gpu_and_ranks_as_on_cpu(tiny_bert_dir, tmp_path):
    """A linker configured for fp32 ONNX queries (the CPU default) runs torch on a GPU, same links."""
    from test_linking import SKILLS, taxonomy_frame

    from common.linking.linker import ESCOLinker, LinkerConfig, build_linker

    tax = taxonomy_frame([{"uri": u, "label": lab, "alt_labels": alts, "groups_l1": g1, "groups_l2": g2}
                          for u, lab, alts, g1, g2 in SKILLS])
    build_linker(LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None), tax, out_dir=tmp_path / "l", progress=False,
                 use_cache=False)
    gpu, cpu = ESCOLinker.load(tmp_path / "l", device="cuda"), ESCOLinker.load(tmp_path / "l", device="cpu")
    assert gpu.backend == "torch" and cpu.backend == "onnx"
    spans = ["python", "structured query language", "talking to customers"]
    assert [r.linked and r.linked.uri for r in gpu.link(spans)] == [r.linked and r.linked.uri for r in cpu.link(spans)]
