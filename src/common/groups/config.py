"""What a group-classifier run trains: the model kind, features, levels and XGBoost settings (YAML-loadable)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from common.core.config import StageConfig, StrictModel
from common.text.mirror_bert import check_mirror_keys

Feature = Literal["embedding", "nn", "name", "topk", "tfidf", "clusters", "lexical", "size"]
ALL_FEATURES: tuple[str, ...] = get_args(Feature)


class XGBParams(StrictModel):
    n_estimators: int = 400
    max_depth: int = 6
    learning_rate: float = 0.1
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    min_child_weight: float = 2.0
    early_stopping_rounds: int = 30


class GroupConfig(StageConfig):
    """A group-classifier training run (YAML-loadable; see ``configs/groups*.yaml``)."""

    name: str = "skillbert"
    kind: Literal["skillbert", "ovr"] = "skillbert"
    encoder: str | None = Field(None, description="HF model folder; default: settings.encoder_path (MiniLM).")
    mirror: dict[str, Any] | None = Field(
        None, description="Mirror-BERT settings (``common.text.mirror_bert.MirrorConfig``); adapts the encoder first."
    )
    _mirror_keys = field_validator("mirror")(lambda v: check_mirror_keys(v, "mirror"))
    text_field: Literal["text", "label"] = Field("text", description="Which skill column is embedded.")
    views: list[Literal["label"]] = Field(
        default_factory=lambda: ["label"], description="Short views of each training skill added as extra training queries "
        "(same groups, same fold, its own long text excluded from its neighbours): the service classifies short "
        "phrases: on ESCO dev, label-only level-2 micro-F1 0.485 -> 0.551 with the label view, long text 0.586 -> 0.591.")
    max_length: int = Field(128, ge=8)
    embed_batch_size: int = Field(64, ge=1)
    levels: list[Literal[1, 2]] = Field(default_factory=lambda: [1, 2])
    features: list[Feature] = Field(default_factory=lambda: list(ALL_FEATURES))
    pca_dims: int = Field(128, ge=2)
    nn_hidden: int = Field(512, ge=4)
    nn_epochs: int = Field(40, ge=1)
    nn_alpha: float = 1e-4
    nn_folds: int = Field(5, ge=2)
    nn_inference: Literal["folds", "full"] = Field(
        "folds", description="Network probabilities at prediction time: the mean of the out-of-fold networks "
        "(the same kind of network the XGBoost features were made with, and an ensemble) or one network refit on all of train.")
    kmeans_clusters: int = Field(150, ge=2)
    spectral_clusters: int = Field(150, ge=2)
    spectral_neighbors: int = Field(10, ge=2)
    spectral_max_points: int = Field(3000, ge=10, description="Spectral clustering on a sample this big; the rest by 5-NN vote.")
    tfidf_neighbours: int = 3
    candidates: dict[int, int] = Field(default_factory=lambda: {1: 12, 2: 20})
    xgb: XGBParams = Field(default_factory=XGBParams)
    inner_dev_frac: float = Field(0.2, gt=0, lt=1, description="xgb_fit inner: share of train held out to pick thresholds.")
    refit: bool = Field(True, description="xgb_fit inner: refit XGBoost on all of train after the inner split.")
    xgb_fit: Literal["inner", "cv"] = Field(
        "cv", description="inner: one XGBoost fitted on train minus an inner split that picks the threshold, "
        "then refit on all; cv: one XGBoost per fold (the network's folds), the threshold picked on the "
        "out-of-fold predictions of every training skill, and predictions averaged over the fold models.")
    ovr_c: float = 1.0
    threshold: float | None = Field(None, description="Fixed decision threshold; None: tuned on training skills (see xgb_fit).")
    ovr_threshold: float = 0.4
    max_train_skills: int | None = Field(None, ge=2, description="Debug cap on training skills.")
    max_dev_skills: int | None = Field(None, ge=1, description="Debug cap on dev skills.")
    seed: int = 13
    threads: int | None = Field(None, ge=1, description="CPU threads for torch/XGBoost; 1 is faster on a busy CPU.")
    export_onnx: bool = Field(False, description="Export the encoder to ONNX next to the model and score the "
                              "backend that will serve (settings.inference_backend). Off by default: with "
                              "configs/groups.yaml the int8 export lost 0.013 micro-F1 at both levels on ESCO dev "
                              "(L1 0.685 -> 0.672, L2 0.591 -> 0.577; parity allows 0.005), so the group model "
                              "serves torch.")
    device: str | None = None
