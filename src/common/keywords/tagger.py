"""The trained keyword tagger: inference over any text and persistence of its folder.

A folder holds the encoder and tokenizer (Hugging Face format), the head weights and
``tagger.json`` (meta, with ``format``: the folder layout version, see ``FORMAT``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.core.types import KEYWORD_TYPES, Keyword
from common.keywords.config import LABELS, Tier, tier_for_params
from common.keywords.decoding import bio_viterbi, keywords_from_labels
from common.keywords.encoding import Doc, collate, doc_from_text, window_items
from common.keywords.network import build_net
from common.keywords.tiers import TierRequest

# The folder layout: bump when a saved tagger can no longer be read as before, and keep
# loading the older formats (tests/fixtures/saved_models_v1 is a folder of format 1).
FORMAT = 1
TAGGER_FILE = "tagger.json"
HEAD_FILE = "head.safetensors"
CHECKPOINT_DIR = "checkpoint"


class KeywordTagger:
    """A trained tagger: ``extract(texts)`` gives each text's keywords over the original string."""

    def __init__(self, net: Any, tokenizer: Any, meta: dict[str, Any], device: str = "cpu") -> None:
        self.net = net
        self.tokenizer = tokenizer
        self.meta = meta
        self.device = device
        self.max_length = int(meta.get("max_length", 128))
        self.stride = int(meta.get("stride", 32))
        self.eval_batch_size = int(meta.get("eval_batch_size", 32))
        self.backend = "torch"
        self.source_dir: Path | None = None  # the folder it was loaded from

    @property
    def variant(self) -> str:
        return str(self.meta.get("variant"))

    @property
    def tier(self) -> str:
        """``fast`` or ``accurate``: recorded at training, else read off the encoder's size."""
        recorded = self.meta.get("tier")
        if recorded:
            return str(recorded)
        return tier_for_params(sum(p.numel() for p in self.net.encoder.parameters()))

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None, backend: str | None = None) -> KeywordTagger:
        """Load a folder written by ``save`` (or by ``train_tagger``) onto ``device``.

        ``backend`` (default ``settings.inference_backend``): ``torch``, ``onnx``, ``onnx-int8`` or
        ``auto`` (the int8 export on CPU when the folder has one; see ``common.text.onnx_backend``).
        """
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from common.core.settings import cpu_threads, get_settings, resolve_device
        from common.text.onnx_backend import ONNX_FILES, choose_backend, onnx_encoder

        model_dir = Path(model_dir)
        meta_path = model_dir / TAGGER_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{model_dir} is not a keyword tagger folder (no {TAGGER_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if int(meta.get("format", 1)) > FORMAT:
            raise ValueError(f"{model_dir} holds a tagger of format {meta['format']}, written by a newer jobskills "
                             f"(this one reads up to format {FORMAT}): upgrade jobskills to load it")
        dev = resolve_device(device)
        settings = get_settings()
        chosen = choose_backend(model_dir, backend or settings.inference_backend, dev)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        encoder = AutoModel.from_pretrained(model_dir)
        meta.setdefault("tier", tier_for_params(sum(p.numel() for p in encoder.parameters())))
        net = build_net(encoder, meta["variant"], 0.0)
        state = load_file(str(model_dir / HEAD_FILE))
        missing = net.load_state_dict(state, strict=False)
        if any(not k.startswith("encoder.") for k in missing.missing_keys):
            raise ValueError(f"{model_dir / HEAD_FILE} lacks head weights: {missing.missing_keys[:3]}")
        if chosen != "torch":  # the heads stay in torch; the encoder runs in onnxruntime
            net.encoder = onnx_encoder(model_dir / ONNX_FILES[chosen], encoder.config, cpu_threads(), dev)
        net.to(dev).eval()
        tagger = cls(net, tokenizer, meta, dev)
        tagger.backend, tagger.source_dir = chosen, model_dir
        return tagger

    def save(self, model_dir: str | Path) -> Path:
        """Write encoder + tokenizer (HF format), the head/CRF weights and ``tagger.json``."""
        from safetensors.torch import save_file

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        if self.backend == "torch":
            self.net.encoder.save_pretrained(model_dir)
        elif self.source_dir is not None and self.source_dir.resolve() != model_dir.resolve():
            # the encoder runs in onnxruntime: its weights and exports are the source folder's files
            for f in self.source_dir.iterdir():
                if f.is_file() and f.name not in (HEAD_FILE, TAGGER_FILE):
                    shutil.copy2(f, model_dir / f.name)
        else:
            raise ValueError(f"a tagger loaded with the {self.backend} backend can only be saved to another folder")
        self.tokenizer.save_pretrained(model_dir)
        head = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()
                if not k.startswith("encoder.")}
        save_file(head, str(model_dir / HEAD_FILE))
        (model_dir / TAGGER_FILE).write_text(json.dumps(self.meta, indent=2, default=str), encoding="utf-8")
        return model_dir

    def _predict_docs(self, docs: list[Doc]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per doc: label ids ``[n_words, 2]`` and the probability of each chosen label."""
        import torch

        items = window_items(docs, self.tokenizer, self.max_length, self.stride)
        out = [(np.zeros((len(d.words), 2), dtype=np.int64), np.ones((len(d.words), 2), dtype=np.float32))
               for d in docs]
        order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))  # length bucketing
        pad = self.tokenizer.pad_token_id or 0
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.inference_mode():
                for b in range(0, len(order), self.eval_batch_size):
                    chunk = [items[i] for i in order[b : b + self.eval_batch_size]]
                    batch = {k: v.to(self.device) for k, v in collate(chunk, pad).items()}
                    em = self.net.emissions(batch)
                    o_bias = float(self.meta.get("o_bias", 0.0))
                    if o_bias:
                        em = em.clone()
                        em[..., 0] += o_bias
                    probs = em.float().softmax(-1).cpu().numpy()
                    decoded = self.net.decode(em, batch["word_mask"], self.meta.get("decode", "viterbi"))
                    for it, ids, pr in zip(chunk, decoded, probs):
                        w = it.window
                        lo, hi = w.own_start - w.start, w.own_end - w.start
                        lab, conf = out[it.doc]
                        lab[w.own_start : w.own_end] = ids[lo:hi]
                        chosen = np.take_along_axis(pr[lo:hi], ids[lo:hi, :, None], axis=-1)[..., 0]
                        conf[w.own_start : w.own_end] = chosen
        finally:
            self.net.train(was_training)
        return out

    def word_probabilities(self, texts: list[str]) -> list[np.ndarray]:
        """Per text, the softmax label distribution of every word ``[n_words, 2, 3]`` (O, B, I per
        layer), each word from the window where it has the most context (for distillation)."""
        import torch

        docs = [doc_from_text(self.tokenizer, t) for t in texts]
        items = window_items(docs, self.tokenizer, self.max_length, self.stride)
        out = [np.zeros((len(d.words), len(KEYWORD_TYPES), len(LABELS)), dtype=np.float32) for d in docs]
        order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
        pad = self.tokenizer.pad_token_id or 0
        self.net.eval()
        with torch.inference_mode():
            for b in range(0, len(order), self.eval_batch_size):
                chunk = [items[i] for i in order[b : b + self.eval_batch_size]]
                batch = {k: v.to(self.device) for k, v in collate(chunk, pad).items()}
                probs = self.net.emissions(batch).float().softmax(-1).cpu().numpy()
                for it, pr in zip(chunk, probs):
                    w = it.window
                    lo, hi = w.own_start - w.start, w.own_end - w.start
                    out[it.doc][w.own_start : w.own_end] = pr[lo:hi]
        return out

    def extract(self, texts: list[str]) -> list[list[Keyword]]:
        """Keywords of each text: ``Keyword(start, end, text, type, score)`` over that text.

        ``score`` is the mean probability the model gave the chosen B/I labels of the span
        (softmax of the emissions, also for the CRF variant).
        """
        if isinstance(texts, str):
            raise TypeError("extract takes a list of texts")
        docs = [doc_from_text(self.tokenizer, t) for t in texts]
        return [keywords_from_labels(text, doc, lab, conf)
                for text, doc, (lab, conf) in zip(texts, docs, self._predict_docs(docs), strict=True)]


def ensemble_extract(taggers: Sequence[KeywordTagger], texts: list[str], o_bias: float = 0.0) -> list[list[Keyword]]:
    """Keywords from the mean of several taggers' per-word label distributions (a seed ensemble),
    decoded per line with the BIO-constrained Viterbi. The taggers may use different encoders:
    they all split text into the same words."""
    if not taggers:
        raise ValueError("an ensemble needs at least one tagger")
    per_tagger = [t.word_probabilities(texts) for t in taggers]
    out = []
    for j, text in enumerate(texts):
        doc = doc_from_text(taggers[0].tokenizer, text)
        probs = np.mean([pt[j] for pt in per_tagger], axis=0)  # [n_words, 2, 3]
        lab = np.zeros((len(doc.words), len(KEYWORD_TYPES)), dtype=np.int64)
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        logp[..., 0] += o_bias
        bounds = [0] + [i for i in range(1, len(doc.words)) if doc.lines[i] != doc.lines[i - 1]] + [len(doc.words)]
        for a, b in zip(bounds, bounds[1:]):
            for k in range(len(KEYWORD_TYPES)):
                lab[a:b, k] = bio_viterbi(logp[a:b, k])
        conf = np.take_along_axis(probs, lab[..., None], axis=-1)[..., 0]
        out.append(keywords_from_labels(text, doc, lab, conf))
    return out


def latest_model_dir(tier: Tier = "fast") -> Path:
    """``<data_dir>/models/<tier's registry name>/latest``: where ``keywords train`` links its last model."""
    from common.keywords.tiers import tier_latest_dir

    return tier_latest_dir(tier)


def default_model_dir(tier: TierRequest = "auto") -> Path:
    """The tagger to use when none is named: the tier's registry champion when there is one, else
    its latest trained model (``auto``: the accurate tier when it has either, else the fast tier).
    Raises ``FileNotFoundError`` with a clear sentence when there is neither."""
    from common import registry
    from common.keywords.tiers import resolve_tier, tier_model_name

    chosen = resolve_tier(tier)
    name = tier_model_name(chosen)
    latest = latest_model_dir(chosen)
    found = registry.champion_or_latest(name, latest)
    if found != latest or (latest / TAGGER_FILE).exists():
        return found
    how = ("`jobskills encoders install mpnet`, then `jobskills keywords train --config configs/tagger-mpnet.yaml`"
           if chosen == "accurate" else "`jobskills keywords train`")
    raise FileNotFoundError(
        f"no {chosen}-tier keyword tagger found: no registry champion for {name!r} and nothing at {latest}; "
        f"train one with {how} or pass --model DIR"
    )
