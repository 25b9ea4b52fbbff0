"""Skill -> competency groups: SkillBERT's pair classifier on the ESCO taxonomy.

Two model kinds share one ``GroupModel`` class:

* ``skillbert`` - the seed paper's recipe: per (skill, group) pair, features from
  ``common.groups.features`` (128-d reduced embedding, a small network's probability, cosine to
  the group's name, top-1/2/3 similarity to the group's known skills, k-means and spectral
  cluster labels with their group shares, the skill's TF-IDF weight in the group via its 3
  nearest known skills, word-level TF-IDF cosine to the group's document, group size), then
  XGBoost over the pairs. To keep 10,944 x 129 pairs affordable, each skill only gets pairs
  for its candidate groups (top-N by the network's probability plus top-N/3 by nearest-skill
  similarity); the others score 0 and count as misses in the metrics (``candidate_recall``).
* ``ovr`` - the baseline: one-vs-rest logistic regression on the embeddings alone.

Levels 1 and 2 are separate classifiers over the same embeddings. Thresholds are chosen on the
training skills only (out-of-fold XGBoost probabilities, or an inner split); dev is only ever
evaluated.

Training features never see a skill's own labels: out-of-fold network probabilities and
leave-one-out neighbour statistics make a training skill look like a new one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from common.groups import features as gf
from common.groups.config import GroupConfig
from common.groups.features import pair_features, parent_probabilities
from common.groups.metrics import decide

# The folder layout: format 1 (no ``format`` key) pickled the estimator wrappers as
# ``common.groups.model._Masked`` / ``_MeanOf``; format 2 pickles them from ``common.groups.estimators``.
# Older formats keep loading (tests/fixtures/saved_models_v1), through ``__getattr__`` below.
FORMAT = 2
_FORMAT1_NAMES = {"_Masked": "Masked", "_MeanOf": "MeanOf"}
MODEL_FILE = "group_model.joblib"
META_FILE = "group_model.json"
ENCODER_DIR = "encoder"
DEFAULT_ENCODER = "default"


class GroupScore(BaseModel):
    """One ranked competency group for a skill."""

    code: str
    label: str
    level: int
    score: float


class GroupDecision(BaseModel):
    """What the model decides for one skill, and the ranking it decided from."""

    groups: list[GroupScore] = Field(description="Groups the skill is put in (score >= threshold, at least one).")
    ranked: list[GroupScore] = Field(description="The top_k groups by score, decided or not.")
    threshold: float = Field(description="The tuned probability threshold of this level.")


def codes_matrix(lists: Sequence[Sequence[str]], codes: list[str]) -> np.ndarray:
    pos = {c: i for i, c in enumerate(codes)}
    Y = np.zeros((len(lists), len(codes)), dtype=np.uint8)
    for i, cs in enumerate(lists):
        for c in cs:
            if c in pos:
                Y[i, pos[c]] = 1
    return Y


@dataclass
class LevelState:
    """Everything one level's classifier needs at prediction time."""

    level: int
    codes: list[str]
    labels: list[str]
    Y: np.ndarray  # (n_known, G) uint8
    name_emb: np.ndarray  # (G, d)
    parent_name_emb: np.ndarray | None = None
    parent_idx: np.ndarray | None = None  # (G,) index of each group's parent in level 1, or -1
    nn: Any = None
    lexical: gf.LexicalGroups | None = None
    km_known: np.ndarray | None = None
    sp_known: np.ndarray | None = None
    xgb: Any = None
    ovr: Any = None
    threshold: float = 0.5
    feature_names: list[str] = field(default_factory=list)


class GroupModel:
    """A trained skill-group classifier: ``predict`` ranks groups for skill strings."""

    def __init__(self, cfg: GroupConfig, encoder_path: str, known_emb: np.ndarray, known_texts: list[str],
                 levels: dict[int, LevelState], pca: Any = None, kmeans: Any = None, n_spectral: int = 0) -> None:
        self.cfg = cfg
        self.encoder_path = encoder_path
        self.known_emb = known_emb
        self.known_texts = known_texts
        self.levels = levels
        self.pca = pca
        self.kmeans = kmeans
        self.n_spectral = n_spectral
        self.metrics: dict[str, Any] = {}
        self._encoder = None
        self.onnx_dir: Path | None = None  # the model folder, once saved with an ONNX export

    # ---- embeddings -------------------------------------------------------------------------
    def encoder(self):  # noqa: ANN201 - common.text.embeddings.Encoder, imported lazily
        if self._encoder is None:
            from common.text.embeddings import Encoder

            self._encoder = Encoder(self.encoder_path, device=self.cfg.device, max_length=self.cfg.max_length,
                                    onnx_dir=self.onnx_dir)
        return self._encoder

    def embed(self, texts: Sequence[str], use_cache: bool = False, progress: bool = False) -> np.ndarray:
        from common.text.embeddings import embed_texts

        return embed_texts(list(texts), encoder=self.encoder(), batch_size=self.cfg.embed_batch_size,
                           use_cache=use_cache, progress=progress)

    # ---- scoring ----------------------------------------------------------------------------
    def proba(self, level: int, Q: np.ndarray, texts: Sequence[str], self_index: np.ndarray | None = None,
              nn_prob: np.ndarray | None = None) -> np.ndarray:
        """(n, G) group probabilities at ``level`` for embeddings ``Q`` of ``texts``."""
        st = self._level(level)
        if self_index is None:
            self_index = np.full(len(Q), -1, dtype=np.int64)
        if self.cfg.kind == "ovr":
            return st.ovr.predict_proba(Q).astype(np.float32)
        if nn_prob is None:
            nn_prob = st.nn.predict_proba(Q).astype(np.float32)
        parent_prob = None
        if st.parent_idx is not None and 1 in self.levels and self.levels[1].nn is not None:
            parent_prob = parent_probabilities(st, self.levels[1].nn.predict_proba(Q).astype(np.float32))
        X, rows, cols, _ = pair_features(self, st, Q, texts, self_index, nn_prob, parent_prob)
        out = np.zeros((len(Q), len(st.codes)), dtype=np.float32)
        if len(rows):
            out[rows, cols] = st.xgb.predict_proba(X)[:, 1]
        return out

    def _level(self, level: int) -> LevelState:
        if level not in self.levels:
            raise ValueError(f"this group model has no level {level} (it has {sorted(self.levels)})")
        return self.levels[level]

    def _scores(self, skills: list[str], level: int) -> tuple[LevelState, list[str], np.ndarray]:
        st = self._level(level)
        skills = [" ".join(str(s).split()) for s in skills]
        if not skills:
            return st, skills, np.zeros((0, len(st.codes)), dtype=np.float32)
        return st, skills, self.proba(level, self.embed(skills), skills)

    @staticmethod
    def _scored(st: LevelState, level: int, row: np.ndarray, idx: Sequence[int]) -> list[GroupScore]:
        return [GroupScore(code=st.codes[j], label=st.labels[j], level=level, score=float(row[j])) for j in idx]

    def predict(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[list[GroupScore]]:
        """The ``top_k`` groups for each skill string, best first, with probabilities."""
        return [d.ranked for d in self.decide(skills, level=level, top_k=top_k)]

    def assign(self, skills: list[str], level: int = 2) -> list[list[GroupScore]]:
        """The groups each skill is put in (threshold rule, at least one), best first."""
        return [d.groups for d in self.decide(skills, level=level, top_k=1)]

    def decide(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[GroupDecision]:
        """Per skill, the model's decision (``groups``: the tuned threshold rule, at least one,
        best first) and the ``top_k`` ranking, from one scoring pass.

        Both are needed by callers: the decision is what the model claims (what matching and
        the CLI use), the ranking is what a person browses; computing them apart doubled the cost.
        """
        st, skills, P = self._scores(skills, level)
        chosen = decide(P, st.threshold)
        out = []
        for row, mask in zip(P, chosen, strict=True):
            order = np.argsort(-row, kind="stable")
            out.append(GroupDecision(groups=self._scored(st, level, row, [j for j in order if mask[j]]),
                                     ranked=self._scored(st, level, row, order[:top_k]),
                                     threshold=float(st.threshold)))
        return out

    def threshold(self, level: int) -> float:
        return float(self._level(level).threshold)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Write the model folder (joblib state, JSON summary, encoder copy unless default)."""
        import joblib

        from common.core.settings import get_settings

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        enc_ref = self.encoder_path
        default = str(Path(get_settings().encoder_path).resolve())
        if str(Path(self.encoder_path).resolve()) == default:
            enc_ref = DEFAULT_ENCODER
        elif Path(self.encoder_path).resolve() != (model_dir / ENCODER_DIR).resolve():
            dst = model_dir / ENCODER_DIR
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(self.encoder_path, dst)
            enc_ref = ENCODER_DIR
        else:
            enc_ref = ENCODER_DIR
        state = {
            "cfg": self.cfg.model_dump(), "encoder": enc_ref, "known_emb": self.known_emb,
            "known_texts": self.known_texts, "levels": self.levels, "pca": self.pca,
            "kmeans": self.kmeans, "n_spectral": self.n_spectral, "metrics": self.metrics,
        }
        joblib.dump(state, model_dir / MODEL_FILE, compress=3)
        meta = {
            "format": FORMAT, "kind": self.cfg.kind, "name": self.cfg.name, "encoder": enc_ref,
            "levels": {str(k): {"groups": len(v.codes), "threshold": v.threshold} for k, v in self.levels.items()},
            "metrics": self.metrics, "config": self.cfg.model_dump(),
        }
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        if self.cfg.export_onnx:
            self.export_onnx(model_dir)
        return model_dir

    def save_metrics(self, model_dir: Path) -> None:
        """Rewrite the stored metrics (after scoring another backend) without re-exporting."""
        import joblib

        state = joblib.load(model_dir / MODEL_FILE)
        state["metrics"] = self.metrics
        joblib.dump(state, model_dir / MODEL_FILE, compress=3)
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
        meta["metrics"] = self.metrics
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")

    def export_onnx(self, model_dir: Path) -> None:
        """The encoder's ONNX exports (fp32, int8) in the model folder, for the ONNX backends."""
        from transformers import AutoModel

        from common.text.onnx_backend import export_encoder

        export_encoder(AutoModel.from_pretrained(self.encoder_path), model_dir)

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None) -> GroupModel:
        """Load a folder written by ``save`` (or a registry champion path)."""
        import joblib

        from common.core.settings import get_settings

        model_dir = Path(model_dir)
        path = model_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"no group model in {model_dir} (missing {MODEL_FILE})")
        meta_path = model_dir / META_FILE
        fmt = json.loads(meta_path.read_text(encoding="utf-8")).get("format", 1) if meta_path.exists() else 1
        if int(fmt) > FORMAT:
            raise ValueError(f"{model_dir} holds a group model of format {fmt}, written by a newer jobskills "
                             f"(this one reads up to format {FORMAT}): upgrade jobskills to load it")
        state = joblib.load(path)
        cfg = GroupConfig.model_validate(state["cfg"])
        if device:
            cfg.device = device
        enc = state["encoder"]
        encoder_path = get_settings().encoder_path if enc == DEFAULT_ENCODER else str(model_dir / enc)
        model = cls(cfg, encoder_path, state["known_emb"], state["known_texts"], state["levels"],
                    state["pca"], state["kmeans"], state["n_spectral"])
        model.metrics = state.get("metrics", {})
        from common.text.onnx_backend import available_backends

        if len(available_backends(model_dir)) > 1:
            model.onnx_dir = model_dir
        return model


def latest_model_dir() -> Path:
    """``<data_dir>/models/<group_model_name>/latest``: where ``train-groups`` saves by default."""
    from common.core.artifacts import latest_dir
    from common.core.settings import get_settings

    return latest_dir(get_settings().group_model_name)


def default_model_dir() -> Path:
    """The registry champion's folder when there is one, else ``latest_model_dir()``."""
    from common import registry
    from common.core.settings import get_settings

    return registry.champion_or_latest(get_settings().group_model_name, latest_model_dir())


def __getattr__(name: str) -> Any:
    """Classes a format-1 folder pickled under this module's name, now in ``common.groups.estimators``."""
    if name in _FORMAT1_NAMES:
        from common.groups import estimators

        return getattr(estimators, _FORMAT1_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
