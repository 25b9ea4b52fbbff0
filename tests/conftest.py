"""Shared fixtures: offline environment, the real data folder (skipped when absent), tiny BERTs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _k, _v in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "BENTOML_DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_k, _v)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("JOBSKILLS_SHARED_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder; tests that need it skip with a reason when it is absent."""
    if not (SHARED_DATA / "skillspan" / "train.jsonl").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (set JOBSKILLS_SHARED_DATA_DIR)")
    return SHARED_DATA


@pytest.fixture()
def settings_env(tmp_path, monkeypatch):
    """Point the platform's data folder at a temporary directory for one test."""
    from common.core.settings import get_settings

    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOBSKILLS_SHARED_DATA_DIR", str(SHARED_DATA))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _write_tiny_bert(path: Path, vocab_words: list[str]) -> Path:
    """A randomly initialised 2-layer BERT with a WordPiece vocab, saved as a HF folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?()-/+#&'\"<>")
    pieces = [f"##{c}" for c in chars]
    vocab = list(dict.fromkeys(specials + vocab_words + chars + pieces))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 takes the vocab as ``vocab=`` (``vocab_file=`` is ignored: every token -> [UNK])
    tok = BertTokenizerFast(vocab=str(path / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(path)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(path)
    return path


TINY_WORDS = (
    "python java sql experience with and the of to in a we are looking for team "
    "engineer developer data skills knowledge work strong communication management "
    "project design software cloud testing you will our"
).split()


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """Path of a tiny random BERT (2 layers, hidden 32) usable wherever an encoder path is."""
    return _write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_WORDS)


@pytest.fixture(scope="session")
def make_tiny_linker(tiny_bert_dir, tmp_path_factory):
    """Factory: ``make_tiny_linker(labels)`` -> the folder of a linker over those skill labels (uris
    ``u:0``, ``u:1``, ...) on the tiny BERT, no retriever, threshold 0 (every best candidate linked)."""
    from common.linking.linker import LinkerConfig, build_linker
    from common.linking.taxonomy import taxonomy_frame

    def make(labels: list[str]) -> Path:
        tax = taxonomy_frame([{"uri": f"u:{i}", "label": lab, "alt_labels": [], "groups_l1": [], "groups_l2": []}
                              for i, lab in enumerate(labels)])
        folder = tmp_path_factory.mktemp("tiny-linker")
        build_linker(LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None, threshold=0.0), tax,
                     out_dir=folder, validation={}, progress=False, use_cache=False)
        return folder

    return make


@pytest.fixture(scope="session")
def make_tiny_bert(tmp_path_factory):
    """Factory: ``make_tiny_bert(words)`` -> a tiny random BERT whose vocabulary holds ``words``."""
    return lambda words: _write_tiny_bert(tmp_path_factory.mktemp("tiny-bert-vocab"), list(words))
