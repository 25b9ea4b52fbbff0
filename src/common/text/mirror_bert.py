"""Mirror-BERT (seed 003): self-supervised adaptation of an encoder on skill strings alone.

Why: the group classifier's features are all built on embedding similarity, and an
off-the-shelf sentence encoder was not trained on terse skill phrases. Mirror-BERT turns the
encoder into a better similarity model for such strings with no labels at all: each string is
fed twice, each copy with its own dropout mask and one randomly masked span of sub-words; the
two copies are positives and every other string in the batch is a negative (InfoNCE with a
low temperature). A few hundred steps suffice in the paper; here the run time is measured and
stored with the adapted encoder (``mirror_bert.json``) because on a 2-core CPU it is the most
expensive part of the group pipeline.

``pairs`` turns the same loop into the taxonomy's own supervision: a skill's preferred label and
one of its alternative labels are two views of one concept (used by the ESCO linker). It lives
in ``text`` because both the group classifier and the linker adapt their encoder with it.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from common.core.config import StrictModel

logger = logging.getLogger(__name__)

INFO_FILE = "mirror_bert.json"


class MirrorConfig(StrictModel):
    """One Mirror-BERT run (a block of ``configs/groups*.yaml`` under ``mirror:``)."""

    encoder: str | None = Field(None, description="Start from this HF folder; default settings.encoder_path.")
    epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(2e-5, gt=0)
    temperature: float = Field(0.04, gt=0)
    max_length: int = Field(32, ge=4)
    span_mask: int = Field(5, ge=0, description="Length of the masked span (sub-words); 0 disables masking.")
    dropout: float = Field(0.1, ge=0, lt=1)
    max_steps: int | None = Field(None, ge=1)
    freeze_embeddings: bool = Field(
        True, description="Keep the word-embedding matrix fixed: most of the parameters, little of the gain."
    )
    seed: int = 13
    threads: int | None = None
    device: str | None = None


@dataclass
class MirrorResult:
    model_dir: Path
    seconds: float
    steps: int
    final_loss: float


def _mask_spans(input_ids, attention_mask, span: int, mask_id: int, rng: random.Random):  # noqa: ANN001, ANN202
    """Replace one random span of ``span`` real sub-words (not [CLS]/[SEP]) per row by [MASK]."""
    ids = input_ids.clone()
    if span <= 0:
        return ids
    lengths = attention_mask.sum(1).tolist()
    for i, n in enumerate(lengths):
        inner = int(n) - 2  # real tokens between [CLS] and [SEP]
        if inner <= 1:
            continue
        width = min(span, max(1, inner // 2))
        start = 1 + rng.randrange(0, inner - width + 1)
        ids[i, start : start + width] = mask_id
    return ids


def info_nce(a, b, temperature: float):  # noqa: ANN001, ANN201 - torch tensors
    """Symmetric InfoNCE: row i of ``a`` should match row i of ``b`` against all other rows."""
    import torch
    import torch.nn.functional as F

    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _batches(pairs: list[tuple[str, str]], bs: int, rng: random.Random):  # noqa: ANN202 - generator
    """Endless shuffled batches of pairs in which no string appears twice: two rows sharing a
    string (two alternative labels of one skill) would be each other's false negatives."""
    pending: list[tuple[str, str]] = []
    while True:
        if len(pending) < bs * 2:
            more = pairs[:]
            rng.shuffle(more)
            pending.extend(more)
        batch, seen, rest = [], set(), []
        for a, b in pending:
            if len(batch) < bs and a not in seen and b not in seen:
                batch.append((a, b))
                seen.update((a, b))
            else:
                rest.append((a, b))
        pending = rest
        yield batch


def train_mirror_bert(cfg: MirrorConfig, strings: Sequence[str], out_dir: str | Path, progress: bool = True,
                      pairs: Sequence[tuple[str, str]] = ()) -> MirrorResult:
    """Adapt ``cfg.encoder`` on ``strings`` (each its own positive, deduplicated) and on ``pairs``
    (two strings of one concept), and save it as an HF folder."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from common.text.embeddings import mean_pool
    from common.core.settings import get_settings, resolve_device, use_threads

    t0 = time.perf_counter()
    use_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    device = resolve_device(cfg.device)
    path = cfg.encoder or get_settings().encoder_path
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, hidden_dropout_prob=cfg.dropout,
                                      attention_probs_dropout_prob=cfg.dropout).to(device)
    model.train()
    if cfg.freeze_embeddings:
        for p in model.get_input_embeddings().parameters():
            p.requires_grad_(False)
    norm = lambda s: " ".join(str(s).split())  # noqa: E731
    data = [(s, s) for s in dict.fromkeys(norm(s) for s in strings if str(s).strip())]
    data += list(dict.fromkeys((norm(a), norm(b)) for a, b in pairs if str(a).strip() and str(b).strip()))
    if len(data) < 2:
        raise ValueError("Mirror-BERT needs at least two distinct strings")
    bs = min(cfg.batch_size, len(data))
    steps_per_epoch = max(1, len(data) // bs)
    total = max(1, int(round(cfg.epochs * steps_per_epoch)))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    mask_id = tok.mask_token_id if tok.mask_token_id is not None else tok.unk_token_id
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="mirror-bert", unit="step")
    batches = _batches(data, bs, rng)
    loss_val = float("nan")
    for step in range(total):
        batch = next(batches)
        views = []
        for side in range(2):
            enc = tok([p[side] for p in batch], padding=True, truncation=True, max_length=cfg.max_length,
                      return_tensors="pt").to(device)
            ids = _mask_spans(enc["input_ids"], enc["attention_mask"], cfg.span_mask, mask_id, rng)
            out = model(input_ids=ids, attention_mask=enc["attention_mask"]).last_hidden_state
            views.append(mean_pool(out, enc["attention_mask"]))
        loss = info_nce(views[0], views[1], cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_val = float(loss.detach())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_val:.3f}")
    if bar is not None:
        bar.close()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    seconds = time.perf_counter() - t0
    info = {"base_encoder": str(path), "strings": len(data), "pairs": len(pairs), "steps": total, "seconds": seconds,
            "final_loss": loss_val, "config": cfg.model_dump(), "device": device}
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    logger.info("Mirror-BERT: %d steps on %d strings in %.1fs (loss %.3f)", total, len(data), seconds, loss_val)
    return MirrorResult(out_dir, seconds, total, loss_val)


def check_mirror_keys(block: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """A partial MirrorConfig block (``mirror:`` of a group config, ``adapt:`` of a linker) with
    only known keys: checked when the config is read, not minutes later when adaptation starts."""
    from common.core.config import unknown_key_message

    for key in block or {}:
        if key not in MirrorConfig.model_fields:
            raise ValueError(unknown_key_message(where, key, MirrorConfig.model_fields))
    return block
