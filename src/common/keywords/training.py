"""Training a tagger: resumable optimisation with checkpoints, the final report, checkpoint averaging."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.core.types import KEYWORD_TYPES, Posting
from common.keywords.config import LABELS, TaggerConfig, tier_for_params
from common.keywords.distillation import attach_teacher, teacher_probabilities, unlabeled_items
from common.keywords.encoding import WindowItem, collate, doc_from_posting, window_items
from common.keywords.evaluate import evaluate_tagger, flat_metrics
from common.keywords.export import export_and_score
from common.keywords.network import build_net
from common.keywords.tagger import CHECKPOINT_DIR, FORMAT, HEAD_FILE, TAGGER_FILE, KeywordTagger

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What ``train_tagger`` returns: where the tagger is, its dev metrics and the run's history."""

    model_dir: Path
    metrics: dict[str, float]
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def _seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _meta(cfg: TaggerConfig) -> dict[str, Any]:
    from common import __version__

    return {
        "format": FORMAT,
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

    from common.core.settings import resolve_device, use_threads

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    use_threads(cfg.threads)
    _seed_everything(cfg.seed)
    train, dev = _training_postings(cfg, train_postings, dev_postings)
    tagger = _initial_tagger(cfg, device)
    docs = [doc_from_posting(tagger.tokenizer, p) for p in train]
    items = window_items(docs, tagger.tokenizer, cfg.max_length, cfg.stride)
    if cfg.teacher:
        attach_teacher(items, teacher_probabilities(cfg.teacher, train, device, progress))
    if cfg.unlabeled_cache and cfg.unlabeled_fraction > 0:
        items += unlabeled_items(cfg, tagger.tokenizer, first_doc=len(docs))
    run = _TrainingRun(cfg, tagger, items, out_dir / CHECKPOINT_DIR)
    run.resume()
    run.loop(dev, progress)
    return _finish(cfg, run, train, dev, out_dir, t0)


def encoder_param_lr(name: str, lr: float, decay: float, n_layers: int) -> float:
    """The learning rate of one encoder parameter under layer-wise decay (ULMFiT / Sun et al. 2019):
    lower layers hold general language and move less. ``encoder.layer.i`` learns at
    ``lr * decay**(n_layers - 1 - i)``, the embeddings at ``lr * decay**n_layers``, anything above
    the layers (pooler, relative attention bias) at ``lr``."""
    if decay == 1.0 or n_layers == 0:
        return lr
    match = re.search(r"(?:^|\.)layer\.(\d+)\.", name)
    if match:
        return lr * decay ** (n_layers - 1 - int(match.group(1)))
    if name.startswith("embeddings.") or ".embeddings." in name:
        return lr * decay**n_layers
    return lr


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
    net = build_net(AutoModel.from_pretrained(enc_path), cfg.variant, cfg.dropout).to(device)
    if cfg.init_from:
        from safetensors.torch import load_file

        init_meta = json.loads((Path(cfg.init_from) / TAGGER_FILE).read_text(encoding="utf-8"))
        if init_meta.get("variant") != cfg.variant:
            raise ValueError(f"init_from {cfg.init_from} is a {init_meta.get('variant')} tagger, not {cfg.variant}")
        net.load_state_dict(load_file(str(Path(cfg.init_from) / HEAD_FILE)), strict=False)
    meta = _meta(cfg)
    meta["tier"] = cfg.tier or tier_for_params(sum(p.numel() for p in net.encoder.parameters()))
    return KeywordTagger(net, tokenizer, meta, device)


class _TrainingRun:
    """The optimisation state of one run: optimizer, schedule, step, history and checkpoints."""

    def __init__(self, cfg: TaggerConfig, tagger: KeywordTagger, items: list[WindowItem], ckpt_dir: Path) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.cfg, self.tagger, self.items, self.ckpt_dir = cfg, tagger, items, ckpt_dir
        self.net, self.device = tagger.net, tagger.device
        self.pad = tagger.tokenizer.pad_token_id or 0
        self.n_layers = int(getattr(self.net.encoder.config, "num_hidden_layers", 0))
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
            by_rate: dict[float, list[tuple[str, Any]]] = {}
            for name, p in net.encoder.named_parameters():
                by_rate.setdefault(encoder_param_lr(name, cfg.lr, cfg.layer_lr_decay, self.n_layers), []).append((name, p))
            for lr, params in sorted(by_rate.items()):
                groups += [{"params": [p for _, p in params if p.ndim > 1], "lr": lr, "weight_decay": cfg.weight_decay},
                           {"params": [p for _, p in params if p.ndim <= 1], "lr": lr, "weight_decay": 0.0}]
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

    def _snapshot_path(self, epoch: int) -> Path:
        return self.ckpt_dir / f"epoch-{epoch}.pt"

    def averaged_epochs(self) -> list[int]:
        """The epoch ends whose weights the final model averages (none when averaging is off)."""
        n = self.cfg.average_last_epochs
        last = math.ceil(self.total / self.steps_per_epoch)
        return list(range(max(1, last - n + 1), last + 1)) if n >= 2 else []

    def snapshot_epoch(self) -> None:
        """Keep this epoch end's weights on disk (beside the checkpoint, so a resumed run has them)
        when the final model will average them."""
        import torch

        epoch = math.ceil(self.step / self.steps_per_epoch)
        if epoch in self.averaged_epochs():
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            state = {k: v.detach().to("cpu").clone() for k, v in self.net.state_dict().items()}
            torch.save(state, self._snapshot_path(epoch))

    def average_snapshots(self) -> list[int]:
        """Load the mean of the kept epoch-end weights into the net; returns the epochs averaged."""
        import torch

        epochs = [e for e in self.averaged_epochs() if self._snapshot_path(e).exists()]
        if len(epochs) < 2:
            return []
        self.net.load_state_dict(mean_state([torch.load(self._snapshot_path(e), map_location="cpu") for e in epochs]))
        return epochs

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The windows of one epoch, shuffled (seeded per epoch, so a resumed run sees the same order).
        With ``length_buckets`` the shuffled order is cut into runs of 50 batches, each run sorted by
        length and its batches shuffled again: batches of similar lengths pad less (short O*NET
        duties beside long posting windows), and the order stays random at the scale of an epoch."""
        rng = np.random.default_rng(self.cfg.seed + epoch)
        order = rng.permutation(len(self.items))
        if not self.cfg.length_buckets:
            return order
        size = self.cfg.batch_size
        out: list[np.ndarray] = []
        for start in range(0, len(order), 50 * size):
            run = sorted(order[start : start + 50 * size], key=lambda i: len(self.items[i].input_ids))
            batches = [run[b : b + size] for b in range(0, len(run), size)]
            full = [b for b in batches if len(b) == size]  # a short last batch stays last: slices stay aligned
            out += [np.asarray(full[j]) for j in rng.permutation(len(full))] + [np.asarray(b) for b in batches
                                                                                 if len(b) < size]
        return np.concatenate(out) if out else order

    def _batch(self, idx: Sequence[int]) -> dict[str, Any]:
        return {k: v.to(self.device) for k, v in collate([self.items[i] for i in idx], self.pad).items()}

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
        taught = self.cfg.teacher or self.cfg.unlabeled_cache
        loss = self.net.loss(self._emissions(idx, batch), batch, self.cfg.distill_alpha if taught else 0.0,
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
            order = self.epoch_order(epoch)
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
                if self.step % self.steps_per_epoch == 0 or self.step == self.total:
                    self.snapshot_epoch()
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
    if run.averaged_epochs():
        if dev:
            last = evaluate_tagger(tagger, dev)["span"]["overall"]["f1"]
            history.append({"step": run.step, "epoch": round(run.step / run.steps_per_epoch, 3),
                            "dev_span_f1_last_weights": last})
        tagger.save(out_dir / "last-weights")  # the average can be worse (mpnet: 0.514 vs 0.540): keep both
        tagger.meta["averaged_epochs"] = run.average_snapshots()
    if dev:
        report = evaluate_tagger(tagger, dev)
        history.append({"step": run.step, "epoch": round(run.step / run.steps_per_epoch, 3),
                        "dev_span_f1": report["span"]["overall"]["f1"]})
        metrics.update(flat_metrics(report))
    tagger.meta.update({"metrics": metrics, "train_seconds": train_seconds, "steps": run.step,
                        "train_postings": len(train), "history": history})
    tagger.save(out_dir)
    if cfg.export_onnx:
        report = export_and_score(tagger, out_dir, dev, report, metrics)
    if report is not None:
        report["model"] = {"variant": cfg.variant, "model_dir": str(out_dir), "train_seconds": train_seconds}
        save_report(report, out_dir, history=history)
    shutil.rmtree(run.ckpt_dir, ignore_errors=True)
    return TrainResult(out_dir, metrics, time.perf_counter() - t0, history, report)


def mean_state(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The element-wise mean of state dicts of one architecture (integer buffers: the first's)."""
    import torch

    return {k: (torch.stack([st[k].float() for st in states]).mean(0).to(v.dtype) if v.is_floating_point() else v)
            for k, v in states[0].items()}


def average_taggers(model_dirs: Sequence[str | Path], out_dir: str | Path, **meta: Any) -> Path:
    """Save the weight average of taggers of one variant and encoder (checkpoint averaging).

    Averaging checkpoints of one run (e.g. after 4 and after 6 epochs) lands in a flatter region
    than either: on SkillSpan dev it beat both. ``meta`` entries (e.g. ``o_bias``) go into the
    averaged tagger's ``tagger.json``.
    """
    taggers = [KeywordTagger.load(d, device="cpu", backend="torch") for d in model_dirs]  # averages torch weights
    if len({t.variant for t in taggers}) != 1:
        raise ValueError("can only average taggers of the same variant")
    first = taggers[0]
    first.net.load_state_dict(mean_state([t.net.state_dict() for t in taggers]))
    first.meta.update({"averaged_from": [str(d) for d in model_dirs], **meta})
    out = first.save(out_dir)
    from common.text.onnx_backend import export_encoder

    export_encoder(first.net.encoder, out)  # the averaged weights, not the first member's exports
    return out
