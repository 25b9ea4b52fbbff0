"""The keyword tagger: BERT-family token classification over two BIO layers (Skill, Knowledge).

Why two layers: in SkillSpan a token can sit inside a Skill span and a Knowledge span at once
(about 350 such tokens in train), so a single 5-label BIO sequence would have to drop one of
them. The tagger keeps both: one encoder, then per layer a 3-label (O/B/I) head - a linear
layer, or a linear layer followed by a CRF (pytorch-crf, one CRF per layer) for the ``crf``
variant. Variants, as in the seed paper:

* ``frozen``   - the encoder's weights stay fixed, only the linear heads learn;
* ``finetune`` - encoder and linear heads learn (the encoder at ``lr``, heads at ``head_lr``);
* ``crf``      - like ``finetune`` with a CRF per layer (trained on the sequence likelihood,
  decoded with Viterbi).

Words come from the one word splitter (``common.text.words``: punctuation split off the way
SkillSpan's tokens are, names such as ``C++`` and ``Node.js`` kept whole), labelled through their
first sub-word piece; texts longer than a window are covered by striding windows (``common.keywords.windows``),
never truncated. ``extract`` returns ``Keyword``s whose offsets point into the original string.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from common.core.config import StageConfig, encoder_or_default
from common.text.spans import bio_to_spans, blank_control_chars, posting_text, posting_token_offsets, repair_bio
from common.text.words import is_punctuation, word_tokens
from common.keywords.windows import MAX_PIECES_PER_WORD, Window, line_ids, plan_windows
from common.core.types import KEYWORD_TYPES, Keyword, Posting

logger = logging.getLogger(__name__)

LABELS: tuple[str, str, str] = ("O", "B", "I")  # per layer; index = class id
TAGGER_FILE = "tagger.json"
HEAD_FILE = "head.safetensors"
CHECKPOINT_DIR = "checkpoint"

Variant = Literal["frozen", "finetune", "crf"]
Tier = Literal["fast", "accurate"]
# Encoders up to this size serve on CPU as the ``fast`` tier (MiniLM-L6: 22.7M); larger ones
# (mpnet-base: 109M) are the ``accurate`` tier for GPUs and batch jobs.
FAST_TIER_MAX_PARAMS = 50_000_000


def tier_for_params(n_params: int) -> Tier:
    """The tier a tagger belongs to by the size of its encoder."""
    return "fast" if n_params <= FAST_TIER_MAX_PARAMS else "accurate"


class TaggerConfig(StageConfig):
    """Everything that defines a tagger training run (YAML-loadable; see ``configs/tagger*.yaml``)."""

    encoder: str | None = Field(None, description="HF model folder; default: settings.encoder_path (MiniLM).")
    variant: Variant = "finetune"
    max_length: int = Field(128, ge=8, description="Window size in sub-word pieces, specials included.")
    stride: int = Field(32, ge=0, description="Pieces of context shared by overlapping windows.")
    epochs: float = Field(4, gt=0)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(32, ge=1)
    lr: float = Field(8e-5, gt=0, description="Encoder learning rate (unused when frozen).")
    head_lr: float = Field(1e-3, gt=0, description="Learning rate of heads and CRF transitions.")
    weight_decay: float = 0.01
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    grad_clip: float = 1.0
    seed: int = 13
    max_steps: int | None = Field(None, ge=1, description="Debug cap: stop after this many optimizer steps.")
    max_train_postings: int | None = Field(None, ge=1, description="Debug cap on training postings.")
    max_eval_postings: int | None = Field(None, ge=1, description="Debug cap on dev postings.")
    eval_each_epoch: bool = Field(True, description="Evaluate on dev after each epoch (history only).")
    checkpoint_steps: int = Field(100, ge=1, description="Save a resumable checkpoint this often.")
    log_steps: int = Field(10, ge=1)
    device: str | None = None
    decode: Literal["viterbi", "argmax"] = Field(
        "viterbi", description="Linear heads: best BIO-valid path (no O->I) or per-word argmax + repair."
    )
    o_bias: float = Field(
        0.0, description="Added to the O score before decoding: > 0 trades recall for precision."
    )
    init_from: str | None = Field(
        None, description="Start from a saved tagger folder (same variant) instead of the bare encoder."
    )
    threads: int | None = Field(
        None, ge=1, description="torch CPU threads for this run (1 is faster on a busy shared CPU); None: torch's default."
    )
    teacher: str | None = Field(
        None, description="Knowledge distillation: a trained tagger folder (e.g. the accurate tier) whose per-word "
        "label distributions on the training postings the student also learns (linear heads only).")
    distill_alpha: float = Field(0.5, ge=0, le=1, description="Weight of the teacher term (1 - alpha: the gold labels).")
    distill_temperature: float = Field(2.0, gt=0, description="Softening of both distributions in the teacher term.")
    export_onnx: bool = Field(True, description="Export the trained encoder to ONNX (fp32 and int8) next to the "
                              "model, and score the backend that will serve (settings.inference_backend).")

    @model_validator(mode="after")
    def _check_teacher(self) -> TaggerConfig:
        if self.teacher and self.variant == "crf":
            raise ValueError("distillation (teacher) needs linear heads: use variant finetune or frozen")
        return self

    @model_validator(mode="after")
    def _check_stride(self) -> TaggerConfig:
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length - 2 ({self.max_length - 2})")
        return self

    def encoder_path(self) -> str:
        return encoder_or_default(self.encoder)


@dataclass
class TrainResult:
    """What ``train_tagger`` returns: where the tagger is, its dev metrics and the run's history."""

    model_dir: Path
    metrics: dict[str, float]
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------------
# Encoding words into windows
# --------------------------------------------------------------------------------------------


@dataclass
class _Doc:
    """One text as words, with their pieces, line numbers and (for training) per-layer labels."""

    words: list[str]
    offsets: list[tuple[int, int]]
    lines: list[int]
    pieces: list[list[int]]
    labels: np.ndarray | None = None  # [n_words, 2] class ids


def _word_pieces(tokenizer: Any, words: list[str]) -> list[list[int]]:
    if not words:
        return []
    ids = tokenizer(words, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    return [(p[:MAX_PIECES_PER_WORD] if p else [unk]) for p in ids]


def _doc_from_text(tokenizer: Any, text: str) -> _Doc:
    text = blank_control_chars(text)  # same length: offsets still point into the caller's text
    words, offsets = word_tokens(text)
    return _Doc(words, offsets, line_ids(text, offsets), _word_pieces(tokenizer, words))


def _doc_from_posting(tokenizer: Any, posting: Posting) -> _Doc:
    """A training document: the posting's text split by the word splitter (as at inference),
    each word labelled from the gold token it lies in (see ``project_labels``)."""
    doc = _doc_from_text(tokenizer, posting_text(posting))
    gold_offsets = [o for sent in posting_token_offsets(posting) for o in sent]
    gold = []
    for sent in posting.sentences:
        layer_ids = []
        for ktype in KEYWORD_TYPES:
            tags = repair_bio(sent.tags.get(ktype) or ["O"] * len(sent.tokens))
            layer_ids.append([LABELS.index(t[0]) for t in tags])
        gold.extend(zip(*layer_ids))
    if len(gold) != len(gold_offsets):
        raise ValueError(f"posting {posting.doc_id}: tags do not match its tokens")
    doc.labels = project_labels(doc.offsets, gold_offsets, np.asarray(gold, dtype=np.int64).reshape(-1, 2))
    return doc


def project_labels(word_offsets: Sequence[tuple[int, int]], token_offsets: Sequence[tuple[int, int]],
                   token_labels: np.ndarray) -> np.ndarray:
    """Per word, per layer, the label id of the gold token the word lies in: the token's own
    label for its first word, ``I`` for the token's later words inside a span, ``O`` outside.

    SkillSpan's tokens and the splitter's words agree almost everywhere; where a token holds
    several words (``you!`` -> ``you`` ``!``) the span still covers the whole token.
    """
    out = np.zeros((len(word_offsets), token_labels.shape[1]), dtype=np.int64)
    starts = [s for s, _ in token_offsets]
    last_token = -1
    for i, (ws, _we) in enumerate(word_offsets):
        t = bisect.bisect_right(starts, ws) - 1
        if t < 0 or ws >= token_offsets[t][1]:
            continue  # not inside a token (cannot happen for text built from the tokens)
        if t == last_token:
            out[i] = np.where(token_labels[t] > 0, LABELS.index("I"), 0)
        else:
            out[i] = token_labels[t]
        last_token = t
    return out


@dataclass
class _Item:
    """One window of one doc, ready to batch."""

    doc: int
    window: Window
    input_ids: list[int]
    word_pos: list[int]  # position of each word's first piece in input_ids
    labels: np.ndarray | None
    soft: np.ndarray | None = None  # teacher label probabilities [n_words, 2, 3] (distillation)


def _items(docs: list[_Doc], tokenizer: Any, max_length: int, stride: int) -> list[_Item]:
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    items = []
    max_pieces = max_length - 2
    for d, doc in enumerate(docs):
        if not doc.words:
            continue
        lens = [min(len(p), max_pieces) for p in doc.pieces]
        for w in plan_windows(lens, doc.lines, max_pieces, stride):
            ids = [cls_id]
            pos = []
            for i in range(w.start, w.end):
                pos.append(len(ids))
                ids.extend(doc.pieces[i][: lens[i]])
            ids = ids[: max_length - 1] + [sep_id]
            labels = doc.labels[w.start : w.end] if doc.labels is not None else None
            items.append(_Item(d, w, ids, pos, labels))
    return items


def _collate(items: Sequence[_Item], pad_id: int) -> dict[str, Any]:
    import torch

    n = len(items)
    t = max(len(it.input_ids) for it in items)
    w = max(len(it.word_pos) for it in items)
    input_ids = torch.full((n, t), pad_id, dtype=torch.long)
    attention = torch.zeros((n, t), dtype=torch.long)
    word_pos = torch.zeros((n, w), dtype=torch.long)
    word_mask = torch.zeros((n, w), dtype=torch.bool)
    labels = torch.zeros((n, w, 2), dtype=torch.long)
    soft = torch.full((n, w, 2, len(LABELS)), 1.0 / len(LABELS)) if any(it.soft is not None for it in items) else None
    for i, it in enumerate(items):
        input_ids[i, : len(it.input_ids)] = torch.tensor(it.input_ids)
        attention[i, : len(it.input_ids)] = 1
        word_pos[i, : len(it.word_pos)] = torch.tensor(it.word_pos)
        word_mask[i, : len(it.word_pos)] = True
        if it.labels is not None:
            labels[i, : len(it.word_pos)] = torch.from_numpy(it.labels)
        if soft is not None and it.soft is not None:
            soft[i, : len(it.word_pos)] = torch.from_numpy(it.soft)
    out = {"input_ids": input_ids, "attention_mask": attention, "word_pos": word_pos,
           "word_mask": word_mask, "labels": labels}
    if soft is not None:
        out["soft"] = soft
    return out


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


_BIO_ALLOWED = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 1]], dtype=bool)  # from (row) -> to (col): O,B,I


def bio_viterbi(logp: np.ndarray) -> np.ndarray:
    """Most probable label path ``[n]`` under per-word log-probabilities ``[n, 3]`` (O, B, I)
    among well-formed BIO paths (no I at the start or after O).

    Per-word argmax followed by ``repair_bio`` turns a stray I into a new one-word span and
    splits spans at one uncertain word; decoding the best *valid* path instead keeps span
    boundaries consistent, as a CRF would, with no extra parameters.
    """
    n = len(logp)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    trans = np.where(_BIO_ALLOWED, 0.0, -np.inf)
    score = logp[0] + np.array([0.0, 0.0, -np.inf])
    back = np.zeros((n, 3), dtype=np.int64)
    for i in range(1, n):
        cand = score[:, None] + trans  # [from, to]
        back[i] = cand.argmax(0)
        score = cand.max(0) + logp[i]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _build_net(encoder: Any, variant: str, dropout: float) -> Any:
    """Encoder + two 3-label heads (+ one CRF per layer); built lazily so torch loads on use."""
    import torch
    from torch import nn

    class TaggerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.variant = variant
            hidden = encoder.config.hidden_size
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(hidden, len(KEYWORD_TYPES) * len(LABELS))
            if variant == "crf":
                from torchcrf import CRF

                self.crfs = nn.ModuleList([CRF(len(LABELS), batch_first=True) for _ in KEYWORD_TYPES])
            else:
                self.crfs = None
            if variant == "frozen":
                for p in self.encoder.parameters():
                    p.requires_grad_(False)

        def train(self, mode: bool = True) -> TaggerNet:
            super().train(mode)
            if self.variant == "frozen":
                self.encoder.eval()  # no dropout inside a fixed feature extractor
            return self

        def word_states(self, batch: dict[str, Any]) -> Any:
            """Encoder state of each word's first piece: ``[batch, words, hidden]``."""
            if self.variant == "frozen":
                with torch.no_grad():
                    hidden = self.encoder(input_ids=batch["input_ids"],
                                          attention_mask=batch["attention_mask"]).last_hidden_state
            else:
                hidden = self.encoder(input_ids=batch["input_ids"],
                                      attention_mask=batch["attention_mask"]).last_hidden_state
            pos = batch["word_pos"].unsqueeze(-1).expand(-1, -1, hidden.size(-1))
            return hidden.gather(1, pos)

        def scores(self, words: Any) -> Any:
            """Per word, per layer, the 3 label scores: ``[batch, words, 2, 3]``."""
            out = self.head(self.dropout(words))
            return out.view(out.size(0), out.size(1), len(KEYWORD_TYPES), len(LABELS))

        def emissions(self, batch: dict[str, Any]) -> Any:
            return self.scores(self.word_states(batch))

        def loss(self, em: Any, batch: dict[str, Any], alpha: float = 0.0, temperature: float = 1.0) -> Any:
            """Gold cross-entropy; with a batch ``soft`` (teacher probabilities) and ``alpha`` > 0,
            ``(1 - alpha) * CE + alpha * T^2 * KL(teacher_T || student_T)`` (Hinton et al.)."""
            mask, labels = batch["word_mask"], batch["labels"]
            if self.crfs is not None:
                return sum(-crf(em[:, :, k], labels[:, :, k], mask=mask, reduction="token_mean")
                           for k, crf in enumerate(self.crfs)) / len(self.crfs)
            ce = nn.functional.cross_entropy(em[mask].reshape(-1, len(LABELS)), labels[mask].reshape(-1))
            if "soft" not in batch or alpha <= 0:
                return ce
            t = temperature
            teacher = batch["soft"][mask].reshape(-1, len(LABELS)).clamp_min(1e-8).pow(1.0 / t)
            teacher = teacher / teacher.sum(-1, keepdim=True)
            student = nn.functional.log_softmax(em[mask].reshape(-1, len(LABELS)) / t, dim=-1)
            kl = nn.functional.kl_div(student, teacher, reduction="batchmean")
            return (1 - alpha) * ce + alpha * t * t * kl

        def decode(self, em: Any, mask: Any, method: str = "viterbi") -> list[np.ndarray]:
            """Best label ids per window: a ``[n_words, 2]`` array per row."""
            lengths = mask.sum(1).tolist()
            if self.crfs is None:
                if method == "argmax":
                    best = em.argmax(-1).cpu().numpy()
                    return [best[i, :n] for i, n in enumerate(lengths)]
                logp = em.float().log_softmax(-1).cpu().numpy()
                return [np.stack([bio_viterbi(logp[i, :n, k]) for k in range(logp.shape[2])], axis=1)
                        if n else np.zeros((0, logp.shape[2]), dtype=np.int64)
                        for i, n in enumerate(lengths)]
            paths = [crf.decode(em[:, :, k], mask=mask) for k, crf in enumerate(self.crfs)]
            return [np.stack([np.asarray(paths[k][i]) for k in range(len(self.crfs))], axis=1)
                    for i in range(len(lengths))]

    return TaggerNet()


# --------------------------------------------------------------------------------------------
# The tagger used at inference (and for evaluation during training)
# --------------------------------------------------------------------------------------------


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

        from common.core.settings import get_settings, resolve_device
        from common.text.onnx_backend import ONNX_FILES, choose_backend, onnx_encoder

        model_dir = Path(model_dir)
        meta_path = model_dir / TAGGER_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{model_dir} is not a keyword tagger folder (no {TAGGER_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        dev = resolve_device(device)
        settings = get_settings()
        chosen = choose_backend(model_dir, backend or settings.inference_backend, dev)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        encoder = AutoModel.from_pretrained(model_dir)
        meta.setdefault("tier", tier_for_params(sum(p.numel() for p in encoder.parameters())))
        net = _build_net(encoder, meta["variant"], 0.0)
        state = load_file(str(model_dir / HEAD_FILE))
        missing = net.load_state_dict(state, strict=False)
        if any(not k.startswith("encoder.") for k in missing.missing_keys):
            raise ValueError(f"{model_dir / HEAD_FILE} lacks head weights: {missing.missing_keys[:3]}")
        if chosen != "torch":  # the heads stay in torch; the encoder runs in onnxruntime
            net.encoder = onnx_encoder(model_dir / ONNX_FILES[chosen], encoder.config, settings.onnx_threads, dev)
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

    def _predict_docs(self, docs: list[_Doc]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per doc: label ids ``[n_words, 2]`` and the probability of each chosen label."""
        import torch

        items = _items(docs, self.tokenizer, self.max_length, self.stride)
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
                    batch = {k: v.to(self.device) for k, v in _collate(chunk, pad).items()}
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

        docs = [_doc_from_text(self.tokenizer, t) for t in texts]
        items = _items(docs, self.tokenizer, self.max_length, self.stride)
        out = [np.zeros((len(d.words), len(KEYWORD_TYPES), len(LABELS)), dtype=np.float32) for d in docs]
        order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
        pad = self.tokenizer.pad_token_id or 0
        self.net.eval()
        with torch.inference_mode():
            for b in range(0, len(order), self.eval_batch_size):
                chunk = [items[i] for i in order[b : b + self.eval_batch_size]]
                batch = {k: v.to(self.device) for k, v in _collate(chunk, pad).items()}
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
        docs = [_doc_from_text(self.tokenizer, t) for t in texts]
        return [_keywords(text, doc, lab, conf)
                for text, doc, (lab, conf) in zip(texts, docs, self._predict_docs(docs), strict=True)]


def _keywords(text: str, doc: _Doc, lab: np.ndarray, conf: np.ndarray) -> list[Keyword]:
    """The keywords of one text from its words' label ids and confidences ``[n_words, 2]``:
    spans per layer, never across a line, without punctuation at either end."""
    kws: list[Keyword] = []
    for k, ktype in enumerate(KEYWORD_TYPES):
        tags = [LABELS[i] for i in lab[:, k]]
        start = 0
        for i in range(1, len(tags) + 1):
            if i < len(tags) and doc.lines[i] == doc.lines[start]:
                continue
            for s, e, _ in bio_to_spans(tags[start:i], ktype):
                s, e = _trim_punctuation(doc.words, s + start, e + start)
                if s >= e:
                    continue  # a span of punctuation only
                cs, ce = doc.offsets[s][0], doc.offsets[e - 1][1]
                score = float(np.clip(conf[s:e, k].mean(), 0.0, 1.0))
                kws.append(Keyword(start=cs, end=ce, text=text[cs:ce], type=ktype, score=score))
            start = i
    return sorted(kws, key=lambda kw: (kw.start, kw.end, kw.type))


def ensemble_extract(taggers: Sequence[KeywordTagger], texts: list[str], o_bias: float = 0.0) -> list[list[Keyword]]:
    """Keywords from the mean of several taggers' per-word label distributions (a seed ensemble),
    decoded per line with the BIO-constrained Viterbi. The taggers may use different encoders:
    they all split text into the same words."""
    if not taggers:
        raise ValueError("an ensemble needs at least one tagger")
    per_tagger = [t.word_probabilities(texts) for t in taggers]
    out = []
    for j, text in enumerate(texts):
        doc = _doc_from_text(taggers[0].tokenizer, text)
        probs = np.mean([pt[j] for pt in per_tagger], axis=0)  # [n_words, 2, 3]
        lab = np.zeros((len(doc.words), len(KEYWORD_TYPES)), dtype=np.int64)
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        logp[..., 0] += o_bias
        bounds = [0] + [i for i in range(1, len(doc.words)) if doc.lines[i] != doc.lines[i - 1]] + [len(doc.words)]
        for a, b in zip(bounds, bounds[1:]):
            for k in range(len(KEYWORD_TYPES)):
                lab[a:b, k] = bio_viterbi(logp[a:b, k])
        conf = np.take_along_axis(probs, lab[..., None], axis=-1)[..., 0]
        out.append(_keywords(text, doc, lab, conf))
    return out


def _export_and_score(tagger: KeywordTagger, out_dir: Path, dev: list[Posting], report: dict[str, Any] | None,
                      metrics: dict[str, float]) -> dict[str, Any] | None:
    """Export the encoder to ONNX next to the model; when the configured backend would serve an
    export, score that backend on dev too and make its figures the model's (the gate then
    judges what will serve), keeping the torch figures beside them for parity."""
    from common.text.onnx_backend import export_encoder

    export_encoder(tagger.net.encoder, out_dir)
    serving = KeywordTagger.load(out_dir, device=tagger.device)
    metrics["backend"] = serving.backend  # type: ignore[assignment]
    if report is None or serving.backend == "torch":
        return report
    served = evaluate_tagger(serving, dev)
    served["torch"] = {"span": report["span"]}
    torch_f1 = report["span"]["overall"]["f1"]
    metrics.update(flat_metrics(served))
    metrics["torch_span_f1"] = torch_f1
    tagger.meta["metrics"] = metrics
    (out_dir / TAGGER_FILE).write_text(json.dumps(tagger.meta, indent=2, default=str), encoding="utf-8")
    logger.info("dev span-F1: torch %.4f, %s %.4f", torch_f1, serving.backend, served["span"]["overall"]["f1"])
    return served


def _trim_punctuation(words: Sequence[str], s: int, e: int) -> tuple[int, int]:
    """The word range ``[s, e)`` without punctuation-only words at either end: a keyword never
    starts or ends with punctuation (``Python,`` or ``(AWS``)."""
    while s < e and is_punctuation(words[s]):
        s += 1
    while e > s and is_punctuation(words[e - 1]):
        e -= 1
    return s, e


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _meta(cfg: TaggerConfig) -> dict[str, Any]:
    from common import __version__

    return {
        "format": 1,
        "variant": cfg.variant,
        "types": list(KEYWORD_TYPES),
        "labels": list(LABELS),
        "max_length": cfg.max_length,
        "stride": cfg.stride,
        "decode": cfg.decode,
        "o_bias": cfg.o_bias,
        "eval_batch_size": cfg.eval_batch_size,
        "base_encoder": cfg.encoder_path(),
        "config": cfg.model_dump(),
        "jobskills_version": __version__,
    }


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of an evaluation report as a flat dict (for registries and tables)."""
    m = {
        "span_f1": report["span"]["overall"]["f1"],
        "span_precision": report["span"]["overall"]["precision"],
        "span_recall": report["span"]["overall"]["recall"],
        "skill_f1": report["span"]["Skill"]["f1"],
        "knowledge_f1": report["span"]["Knowledge"]["f1"],
        "doc_f1": report["doc"]["f1"],
        "doc_precision": report["doc"]["precision"],
        "doc_recall": report["doc"]["recall"],
    }
    for source, rep in report.get("by_source", {}).items():
        m[f"{source}_span_f1"] = rep["span"]["overall"]["f1"]
    return {k: float(v) for k, v in m.items()}


def evaluate_tagger(tagger: KeywordTagger, postings: Sequence[Posting], raw: bool = False) -> dict[str, Any]:
    """Run ``tagger`` over the postings' texts (SkillSpan's tokenised form, or with ``raw`` as
    people write them) and score it with ``evaluate_keywords``."""
    from common.keywords.evaluate import dev_texts, evaluate_keywords

    return evaluate_keywords(list(postings), tagger.extract(dev_texts(postings, raw)), raw=raw)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "state.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(path / "state.pt")


def train_tagger(
    cfg: TaggerConfig,
    train_postings: Sequence[Posting],
    dev_postings: Sequence[Posting] | None,
    out_dir: str | Path,
    progress: bool = True,
) -> TrainResult:
    """Train a tagger on ``train_postings`` and save it in ``out_dir``.

    Resumes from ``out_dir/checkpoint`` when a previous run of the same config was cut off
    (model, optimizer, schedule, step and data order are restored). With ``dev_postings`` the
    final model is evaluated and ``report.json``/``report.png`` are written next to it; the
    checkpoint is removed once the final model is saved. The model saved is the last one (no
    early stopping on dev, so dev figures stay an honest estimate).
    """
    import torch

    from common.core.settings import resolve_device

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _seed_everything(cfg.seed)
    train, dev = _training_postings(cfg, train_postings, dev_postings)
    tagger = _initial_tagger(cfg, device)
    docs = [_doc_from_posting(tagger.tokenizer, p) for p in train]
    items = _items(docs, tagger.tokenizer, cfg.max_length, cfg.stride)
    if cfg.teacher:
        attach_teacher(items, teacher_probabilities(cfg.teacher, train, device, progress))
    run = _TrainingRun(cfg, tagger, items, out_dir / CHECKPOINT_DIR)
    run.resume()
    run.loop(dev, progress)
    return _finish(cfg, run, train, dev, out_dir, t0)


def teacher_probabilities(teacher_dir: str | Path, postings: Sequence[Posting], device: str,
                          progress: bool = False) -> list[np.ndarray]:
    """Per posting, the teacher tagger's label probabilities per word ``[n_words, 2, 3]`` over the
    same words the student sees (both split text with ``common.text.words``)."""
    teacher = KeywordTagger.load(teacher_dir, device=device)
    texts = [posting_text(p) for p in postings]
    if progress:
        logger.info("teacher %s: labelling %d training postings", teacher_dir, len(texts))
    return teacher.word_probabilities(texts)


def attach_teacher(items: list[_Item], probs: list[np.ndarray]) -> None:
    """Give each training window the teacher's distributions for the words it owns."""
    for it in items:
        it.soft = probs[it.doc][it.window.start : it.window.end].astype(np.float32)


def _training_postings(cfg: TaggerConfig, train_postings: Sequence[Posting],
                       dev_postings: Sequence[Posting] | None) -> tuple[list[Posting], list[Posting]]:
    """Train and dev postings after the config's debug caps; no training postings is an error."""
    train = list(train_postings)[: cfg.max_train_postings] if cfg.max_train_postings else list(train_postings)
    if not train:
        raise ValueError("no training postings")
    dev = list(dev_postings or [])
    return train, dev[: cfg.max_eval_postings] if cfg.max_eval_postings else dev


def _initial_tagger(cfg: TaggerConfig, device: str) -> KeywordTagger:
    """The untrained tagger: the encoder (or ``init_from``'s tagger, same variant) with new heads."""
    from transformers import AutoModel, AutoTokenizer

    enc_path = cfg.init_from or cfg.encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(enc_path)
    net = _build_net(AutoModel.from_pretrained(enc_path), cfg.variant, cfg.dropout).to(device)
    if cfg.init_from:
        from safetensors.torch import load_file

        init_meta = json.loads((Path(cfg.init_from) / TAGGER_FILE).read_text(encoding="utf-8"))
        if init_meta.get("variant") != cfg.variant:
            raise ValueError(f"init_from {cfg.init_from} is a {init_meta.get('variant')} tagger, not {cfg.variant}")
        net.load_state_dict(load_file(str(Path(cfg.init_from) / HEAD_FILE)), strict=False)
    meta = _meta(cfg)
    meta["tier"] = tier_for_params(sum(p.numel() for p in net.encoder.parameters()))
    return KeywordTagger(net, tokenizer, meta, device)


class _TrainingRun:
    """The optimisation state of one run: optimizer, schedule, step, history and checkpoints."""

    def __init__(self, cfg: TaggerConfig, tagger: KeywordTagger, items: list[_Item], ckpt_dir: Path) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.cfg, self.tagger, self.items, self.ckpt_dir = cfg, tagger, items, ckpt_dir
        self.net, self.device = tagger.net, tagger.device
        self.pad = tagger.tokenizer.pad_token_id or 0
        self.steps_per_epoch = math.ceil(len(items) / cfg.batch_size)
        total = math.ceil(cfg.epochs * self.steps_per_epoch)
        self.total = min(total, cfg.max_steps) if cfg.max_steps else total
        self.optim = torch.optim.AdamW(self._param_groups())
        self.sched = get_linear_schedule_with_warmup(self.optim, int(cfg.warmup_ratio * self.total), self.total)
        self.step, self.history = 0, []
        self.cached: list[Any] | None = None

    def _param_groups(self) -> list[dict[str, Any]]:
        """Heads at ``head_lr`` without decay; the encoder (unless frozen) at ``lr``, decay on matrices."""
        cfg, net = self.cfg, self.net
        head = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
        groups = [{"params": head, "lr": cfg.head_lr, "weight_decay": 0.0}]
        if cfg.variant != "frozen":
            enc = list(net.encoder.named_parameters())
            groups += [{"params": [p for _, p in enc if p.ndim > 1], "lr": cfg.lr, "weight_decay": cfg.weight_decay},
                       {"params": [p for _, p in enc if p.ndim <= 1], "lr": cfg.lr, "weight_decay": 0.0}]
        return groups

    def resume(self) -> None:
        """Restore model, optimizer, schedule, step, history and RNG from the checkpoint, if any."""
        import torch

        path = self.ckpt_dir / "state.pt"
        if not path.exists():
            return
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"].get("variant") != self.cfg.variant or state["config"].get("encoder") != self.cfg.encoder:
            raise ValueError(f"{self.ckpt_dir} belongs to another run (variant/encoder differ); "
                             "remove it or pick another --out")
        self.net.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.sched.load_state_dict(state["sched"])
        self.step, self.history = int(state["step"]), list(state["history"])
        torch.set_rng_state(state["torch_rng"])
        logger.info("resuming from %s at step %d/%d", self.ckpt_dir, self.step, self.total)

    def checkpoint(self) -> None:
        import torch

        _save_checkpoint(self.ckpt_dir, {"model": self.net.state_dict(), "optim": self.optim.state_dict(),
                                         "sched": self.sched.state_dict(), "step": self.step,
                                         "history": self.history, "torch_rng": torch.get_rng_state(),
                                         "config": self.cfg.model_dump()})

    def _batch(self, idx: Sequence[int]) -> dict[str, Any]:
        return {k: v.to(self.device) for k, v in _collate([self.items[i] for i in idx], self.pad).items()}

    def cache_frozen_states(self, progress: bool) -> None:
        """Frozen variant: the encoder never changes, so each window's word states are computed
        once and every epoch only runs the heads (about 3x cheaper than re-encoding)."""
        import torch
        from tqdm.auto import tqdm

        self.cached = [None] * len(self.items)
        self.net.eval()
        order = sorted(range(len(self.items)), key=lambda i: len(self.items[i].input_ids))
        with torch.no_grad():
            for b in tqdm(range(0, len(order), self.cfg.eval_batch_size), disable=not progress,
                          desc="encode (frozen)", unit="batch"):
                idx = order[b : b + self.cfg.eval_batch_size]
                states = self.net.word_states(self._batch(idx))
                for row, i in enumerate(idx):
                    self.cached[i] = states[row, : len(self.items[i].word_pos)].clone()

    def _emissions(self, idx: Sequence[int], batch: dict[str, Any]) -> Any:
        import torch

        if self.cached is None:
            return self.net.emissions(batch)
        return self.net.scores(torch.nn.utils.rnn.pad_sequence([self.cached[i] for i in idx], batch_first=True))

    def _update(self, idx: Sequence[int]) -> float:
        """One optimizer step on the windows ``idx``; returns the loss."""
        import torch

        batch = self._batch(idx)
        loss = self.net.loss(self._emissions(idx, batch), batch, self.cfg.distill_alpha if self.cfg.teacher else 0.0,
                             self.cfg.distill_temperature)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.net.parameters() if p.requires_grad], self.cfg.grad_clip)
        self.optim.step()
        self.sched.step()
        self.step += 1
        return float(loss.detach())

    def loop(self, dev: list[Posting], progress: bool) -> None:
        """Train to ``total`` steps: shuffled epochs (seeded per epoch, so a resumed run sees the same
        order), loss logged every ``log_steps``, dev span-F1 per epoch, checkpoints."""
        from tqdm.auto import tqdm

        cfg = self.cfg
        if cfg.variant == "frozen":
            self.cache_frozen_states(progress)
        bar = tqdm(total=self.total, initial=self.step, disable=not progress, desc=f"train {cfg.variant}", unit="step")
        self.net.train()
        running: list[float] = []
        while self.step < self.total:
            epoch, skip = divmod(self.step, self.steps_per_epoch)
            order = np.random.default_rng(cfg.seed + epoch).permutation(len(self.items))
            for b in range(skip, self.steps_per_epoch):
                if self.step >= self.total:
                    break
                running.append(self._update(order[b * cfg.batch_size : (b + 1) * cfg.batch_size]))
                bar.update(1)
                if self.step % cfg.log_steps == 0 or self.step == self.total:
                    self.history.append({"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 3),
                                         "loss": float(np.mean(running))})
                    bar.set_postfix(loss=f"{self.history[-1]['loss']:.4f}")
                    running = []
                end_of_epoch = self.step % self.steps_per_epoch == 0 and self.step < self.total
                if end_of_epoch and dev and cfg.eval_each_epoch:
                    self._evaluate_epoch(dev)
                if self.step % cfg.checkpoint_steps == 0 and self.step < self.total:
                    self.checkpoint()
        bar.close()
        self.net.eval()

    def _evaluate_epoch(self, dev: list[Posting]) -> None:
        f1 = evaluate_tagger(self.tagger, dev)["span"]["overall"]["f1"]
        self.history.append({"step": self.step, "epoch": self.step // self.steps_per_epoch, "dev_span_f1": f1})
        logger.info("epoch %d dev span-F1 %.4f", self.step // self.steps_per_epoch, f1)
        self.net.train()


def _finish(cfg: TaggerConfig, run: _TrainingRun, train: list[Posting], dev: list[Posting], out_dir: Path,
            t0: float) -> TrainResult:
    """Score the final model on dev, save it with its metrics and report, drop the checkpoint."""
    from common.keywords.evaluate import save_report

    tagger, history = run.tagger, run.history
    metrics: dict[str, float] = {}
    if history and "loss" in history[-1]:
        metrics["train_loss"] = history[-1]["loss"]
    train_seconds = time.perf_counter() - t0
    report = None
    if dev:
        report = evaluate_tagger(tagger, dev)
        history.append({"step": run.step, "epoch": round(run.step / run.steps_per_epoch, 3),
                        "dev_span_f1": report["span"]["overall"]["f1"]})
        metrics.update(flat_metrics(report))
    tagger.meta.update({"metrics": metrics, "train_seconds": train_seconds, "steps": run.step,
                        "train_postings": len(train), "history": history})
    tagger.save(out_dir)
    if cfg.export_onnx:
        report = _export_and_score(tagger, out_dir, dev, report, metrics)
    if report is not None:
        report["model"] = {"variant": cfg.variant, "model_dir": str(out_dir), "train_seconds": train_seconds}
        save_report(report, out_dir, history=history)
    shutil.rmtree(run.ckpt_dir, ignore_errors=True)
    return TrainResult(out_dir, metrics, time.perf_counter() - t0, history, report)


def average_taggers(model_dirs: Sequence[str | Path], out_dir: str | Path, **meta: Any) -> Path:
    """Save the weight average of taggers of one variant and encoder (checkpoint averaging).

    Averaging checkpoints of one run (e.g. after 4 and after 6 epochs) lands in a flatter region
    than either: on SkillSpan dev it beat both. ``meta`` entries (e.g. ``o_bias``) go into the
    averaged tagger's ``tagger.json``.
    """
    import torch

    taggers = [KeywordTagger.load(d, device="cpu", backend="torch") for d in model_dirs]  # averages torch weights
    if len({t.variant for t in taggers}) != 1:
        raise ValueError("can only average taggers of the same variant")
    states = [t.net.state_dict() for t in taggers]
    avg = {k: (torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v)
           for k, v in states[0].items()}
    first = taggers[0]
    first.net.load_state_dict(avg)
    first.meta.update({"averaged_from": [str(d) for d in model_dirs], **meta})
    out = first.save(out_dir)
    from common.text.onnx_backend import export_encoder

    export_encoder(first.net.encoder, out)  # the averaged weights, not the first member's exports
    return out


def latest_model_dir() -> Path:
    """``<data_dir>/models/<keyword_model_name>/latest``: where ``train-keywords`` links its last model."""
    from common.core.artifacts import latest_dir
    from common.core.settings import get_settings

    return latest_dir(get_settings().keyword_model_name)


def default_model_dir() -> Path:
    """The tagger to use when none is named: the registry champion when there is one, else
    ``latest_model_dir()``. Raises ``FileNotFoundError`` with a clear sentence when neither exists."""
    from common import registry
    from common.core.settings import get_settings

    name = get_settings().keyword_model_name
    latest = latest_model_dir()
    found = registry.champion_or_latest(name, latest)
    if found != latest or (latest / TAGGER_FILE).exists():
        return found
    raise FileNotFoundError(
        f"no keyword tagger found: no registry champion for {name!r} and nothing at {latest}; "
        "train one with `jobskills train-keywords` or pass --model DIR"
    )
