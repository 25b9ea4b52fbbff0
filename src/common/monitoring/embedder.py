"""Posting embeddings for the drift check: the mean of a posting's line embeddings, with the
configured encoder (or any callable, e.g. a hashing embedder in tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common.monitoring.config import DriftConfig


# ------------------------------------------------------------------------------------ embeddings
class TextEmbedder:
    """Posting embeddings: the mean of the (normalised) embeddings of its first lines.

    Whole postings are far longer than the encoder's window, so embedding only the first 128
    tokens would ignore most of the text; averaging line embeddings covers it.
    """

    def __init__(self, encoder: str, device: str | None = None, max_seq_length: int = 128,
                 max_lines: int = 64, batch_size: int = 64, num_threads: int | None = None) -> None:
        self.encoder = encoder
        self.device = device
        self.max_seq_length = max_seq_length
        self.max_lines = max_lines
        self.batch_size = batch_size
        self.num_threads = num_threads
        self._model: Any = None

    @classmethod
    def from_config(cls, cfg: DriftConfig) -> TextEmbedder:
        return cls(cfg.encoder_path(), cfg.device, cfg.max_seq_length, cfg.max_lines_per_text,
                   cfg.embed_batch_size, cfg.num_threads)

    def _load(self) -> Any:
        if self._model is None:
            from common.text.embeddings import Encoder

            self._model = Encoder(self.encoder, self.device, max_length=self.max_seq_length,
                                  batch_size=self.batch_size, num_threads=self.num_threads)
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        lines: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            parts = [ln.strip() for ln in text.splitlines() if ln.strip()][: self.max_lines] or [text.strip() or "."]
            lines.extend(parts)
            owner.extend([i] * len(parts))
        emb = self._load().encode(lines, progress=progress)
        owner_arr = np.asarray(owner)
        out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        for i in range(len(texts)):
            out[i] = emb[owner_arr == i].mean(axis=0)
        return out


Embedder = Callable[[Sequence[str]], np.ndarray]


def embed(embedder: TextEmbedder | Embedder, texts: Sequence[str]) -> np.ndarray:
    fn = embedder.encode if isinstance(embedder, TextEmbedder) else embedder
    return np.asarray(fn(list(texts)), dtype=np.float32)
