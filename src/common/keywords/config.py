"""Which tagger to train: the run's config (YAML-loadable), the label set and the tiers.

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

from typing import Literal

from pydantic import Field, model_validator

from common.core.config import StageConfig, encoder_or_default

LABELS: tuple[str, str, str] = ("O", "B", "I")  # per layer; index = class id

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
    layer_lr_decay: float = Field(
        1.0, gt=0, le=1, description="Layer-wise learning-rate decay: encoder layer i of L learns at "
        "lr * decay**(L - 1 - i), the embeddings at lr * decay**L (1.0: one rate for the whole encoder).")
    average_last_epochs: int = Field(
        0, ge=0, description="Save the weight average of the last N epoch ends (checkpoint averaging); "
        "0 or 1: the last weights. The last weights' dev figure is kept in the history beside it.")
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
    unlabeled_cache: str | None = Field(
        None, description="A folder of teacher labels of unlabelled text (`jobskills keywords label-unlabeled`), or "
        "'auto': the teacher's default folder; its passages join the training windows and learn from the teacher "
        "alone (linear heads only).")
    unlabeled_fraction: float = Field(1.0, ge=0, le=1, description="Use the first FRACTION of the cached passages.")
    length_buckets: bool = Field(False, description="Batch windows of similar length (shuffled runs of 50 batches "
                                 "sorted by length): less padding when lengths vary a lot (unlabelled duties).")
    distill_alpha: float = Field(0.5, ge=0, le=1, description="Weight of the teacher term (1 - alpha: the gold labels).")
    distill_temperature: float = Field(2.0, gt=0, description="Softening of both distributions in the teacher term.")
    tier: Tier | None = Field(None, description="The tier the trained tagger belongs to; None: by its encoder's "
                              "size (up to 50M parameters: fast). The pipeline's accurate section sets it.")
    export_onnx: bool = Field(True, description="Export the trained encoder to ONNX (fp32 and int8) next to the "
                              "model, and score the backend that will serve (settings.inference_backend).")

    @model_validator(mode="after")
    def _check_teacher(self) -> TaggerConfig:
        if (self.teacher or self.unlabeled_cache) and self.variant == "crf":
            raise ValueError("distillation (teacher) needs linear heads: use variant finetune or frozen")
        return self

    @model_validator(mode="after")
    def _check_stride(self) -> TaggerConfig:
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length - 2 ({self.max_length - 2})")
        return self

    def encoder_path(self) -> str:
        """The encoder folder: a named encoder (``mpnet``) is its installed folder, None is MiniLM."""
        from common.text.encoder_install import resolve_named

        return encoder_or_default(resolve_named(self.encoder))


# The accurate tier's recipe (configs/tagger-mpnet.yaml states it; a test keeps the two equal):
# mpnet fine-tuned 5 epochs with layer-wise lr decay 0.9 from a top rate of 8e-5, the last weights
# (dev 0.540; the mean of the weights at the ends of epochs 3-5 of the same run: 0.514).
ACCURATE_TIER: dict[str, object] = {
    "encoder": "mpnet", "tier": "accurate", "epochs": 4, "lr": 5e-5, "layer_lr_decay": 1.0,
    "eval_each_epoch": False, "checkpoint_steps": 20,
}


def accurate_tagger_config(**overrides: object) -> TaggerConfig:
    """The accurate tier's documented config, with ``overrides`` (a pipeline section) on top."""
    return TaggerConfig.model_validate({**ACCURATE_TIER, **overrides})

