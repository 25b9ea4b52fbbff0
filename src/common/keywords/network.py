"""The network: an encoder with two 3-label heads (Skill, Knowledge), a CRF per layer for ``crf``."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.core.types import KEYWORD_TYPES
from common.keywords.config import LABELS
from common.keywords.decoding import bio_viterbi_batch


def build_net(encoder: Any, variant: str, dropout: float) -> Any:
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
            ``(1 - alpha) * CE + alpha * T^2 * KL(teacher_T || student_T)`` per word (Hinton et al.).
            Words of windows without gold labels (``gold`` false: unlabelled text) learn from the
            teacher alone (``T^2 * KL``); gold windows the teacher did not label, from gold alone."""
            mask, labels = batch["word_mask"], batch["labels"]
            if self.crfs is not None:
                return sum(-crf(em[:, :, k], labels[:, :, k], mask=mask, reduction="token_mean")
                           for k, crf in enumerate(self.crfs)) / len(self.crfs)
            flat = em[mask].reshape(-1, len(LABELS))  # [words * layers, 3]
            ce = nn.functional.cross_entropy(flat, labels[mask].reshape(-1), reduction="none")

            def per_row(key: str) -> Any:  # a per-window flag as one weight per (word, layer) row
                if key not in batch:
                    return torch.ones_like(ce)
                return batch[key][:, None].expand_as(mask)[mask].repeat_interleave(len(KEYWORD_TYPES)).float()

            gold = per_row("gold")  # 0 for unlabelled text
            if "soft" not in batch or alpha <= 0:
                return (gold * ce).sum() / gold.sum().clamp_min(1.0)
            soft = per_row("has_soft")  # 0 for gold windows the teacher did not label
            t = temperature
            teacher = batch["soft"][mask].reshape(-1, len(LABELS)).clamp_min(1e-8).pow(1.0 / t)
            teacher = teacher / teacher.sum(-1, keepdim=True)
            student = nn.functional.log_softmax(flat / t, dim=-1)
            kl = nn.functional.kl_div(student, teacher, reduction="none").sum(-1) * (t * t)
            a = alpha * soft  # gold with a teacher: (1 - alpha) CE + alpha KL; gold alone: CE; unlabelled: KL
            return (gold * ((1 - a) * ce + a * kl) + (1 - gold) * kl).mean()

        def decode(self, em: Any, mask: Any, method: str = "viterbi") -> list[np.ndarray]:
            """Best label ids per window: a ``[n_words, 2]`` array per row."""
            lengths = mask.sum(1).tolist()
            if self.crfs is None:
                if method == "argmax":
                    best = em.argmax(-1).cpu().numpy()
                    return [best[i, :n] for i, n in enumerate(lengths)]
                logp = em.float().log_softmax(-1).cpu().numpy()  # [rows, words, layers, 3]
                rows, words, layers = logp.shape[:3]
                flat = logp.transpose(0, 2, 1, 3).reshape(rows * layers, words, -1)
                paths = bio_viterbi_batch(flat, np.repeat(lengths, layers)).reshape(rows, layers, words)
                return [paths[i, :, :n].T.copy() for i, n in enumerate(lengths)]
            paths = [crf.decode(em[:, :, k], mask=mask) for k, crf in enumerate(self.crfs)]
            return [np.stack([np.asarray(paths[k][i]) for k in range(len(self.crfs))], axis=1)
                    for i in range(len(lengths))]

    return TaggerNet()
