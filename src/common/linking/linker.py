"""Link a keyword to its ESCO skill, or say that none fits.

How a span is scored against every skill (all vectors L2-normalised, all scores in [0, 1]-ish):
- ``dense``: the best cosine between the span and any of the skill's short names (label,
  alternative labels, synonym run): a skill is as close as its closest name.
- ``text``: cosine with the skill's long text (label + names + description), which knows what
  the skill is about when no name is close.
- ``lexical``: rapidfuzz's normalised edit-distance ratio with the closest plain name
  (``Java`` for ``Java (computer programming)``): exact tokens such as ``SQL`` or ``AWS`` that an
  encoder of sub-words blurs.
- ``context`` (rerank, when the sentence is given): cosine between the sentence and the skill's
  long text, over the ``candidates`` best skills only.
- ``brevity`` (a prior, subtracted): the skill label's length in words, so that a general skill
  beats a narrow one that scores about the same.

The fused score is the weighted mean; the weights are few (``LinkerConfig.weights``) and chosen
on the Decorte validation files (``benchmarks/linking.py`` prints the grid). A span whose best
fused score is below ``threshold`` is returned unlinked: about half of the spans a posting calls
a skill have no ESCO counterpart (``LABEL NOT PRESENT``), and a wrong ID is worse than none.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from common.core.config import StageConfig, StrictModel, encoder_or_default
from common.linking.hubness import load_levels, save_levels
from common.linking.retriever import RETRIEVER_DIR, Retriever, RetrieverConfig
from common.linking.sentence_gate import SentenceGate, fit_skill_filters
from common.linking.skills import SkillRankConfig
from common.linking.taxonomy import Taxonomy
from common.text.mirror_bert import check_mirror_keys

logger = logging.getLogger(__name__)

LINKER_FILE = "linker.json"
INDEX_FILE = "index.npz"
TAXONOMY_FILE = "taxonomy.parquet"
MAX_SPAN_CHARS = 200
BREVITY_WORDS = 8  # label lengths past this many words count as this many (FusionWeights.brevity)
ONNX_FILES_KEPT = ("encoder.onnx", "encoder-int8.onnx", "encoder-int8.json")


class FusionWeights(StrictModel):
    dense: float = Field(1.0, ge=0)
    text: float = Field(0.5, ge=0)
    lexical: float = Field(0.5, ge=0)
    context: float = Field(0.0, ge=0, description="Only used when the caller gives the sentence. 0 by default: "
                           "on the validation files it moved R@1 by -0.02 (TECH) and -0.015 (HOUSE).")
    brevity: float = Field(0.075, ge=0, description="Subtracted from the fused score times the skill label's length "
                           "in words (up to 8) / 8: between two close candidates the general skill wins ('solve "
                           "problems' over 'propose ICT solutions to business problems'), as the annotators chose. "
                           "R@1 rose on both validation files for every value from 0.025 to 0.15 (docs/linking.md).")


class LinkerConfig(StageConfig):
    """A linker build (YAML-loadable, ``configs/linker.yaml``)."""

    name: str = "esco-linker"
    encoder: str | None = Field(None, description="HF encoder folder; default settings.encoder_path (MiniLM).")
    adapt: dict[str, Any] | None = Field(
        None, description="Contrastive adaptation on the taxonomy's (alternative label, label) pairs "
        "(``common.text.mirror_bert.MirrorConfig`` fields); null keeps the encoder as it is.")
    _adapt_keys = field_validator("adapt")(lambda v: check_mirror_keys(v, "adapt"))
    names: Literal["esco", "runs"] = Field(
        "runs", description="The short names indexed (Taxonomy.with_names): runs = ESCO v1.2.0's collection labels "
        "and each other skill's names as one run-together string; esco = every ESCO alternative label as its own "
        "name (measured lower R@1 on both validation files, docs/linking.md).")
    weights: FusionWeights = Field(default_factory=FusionWeights)
    candidates: int = Field(50, ge=1, description="Skills kept per span for the context rerank.")
    threshold: float | None = Field(None, description="Abstain below this fused score; null: tuned on the "
                                    "validation files (see leave_unlinked).")
    leave_unlinked: float = Field(0.55, ge=0, le=1, description="Tuning rule: the lowest threshold that leaves this "
                                  "share of the spans ESCO lacks (LABEL NOT PRESENT) unlinked in each validation file.")
    max_length: int = Field(128, ge=8, description="Sub-words per short name or span.")
    text_max_length: int = Field(128, ge=8, description="Sub-words per long text or sentence.")
    skills: SkillRankConfig = Field(default_factory=SkillRankConfig, description="A posting's ESCO skills: "
                                    "sentence-level retrieval fused with the span links (``common.linking.skills``).")
    retriever: RetrieverConfig | None = Field(
        default_factory=RetrieverConfig, description="Train the sentence retriever (``common.linking.retriever``) "
        "that gives sentences their evidence; null: the linker's own encoder (plain MiniLM). Measured: sentence "
        "RP@5 across validation files 0.623 / 0.688 against 0.613 / 0.633 (docs/linking.md).")
    seed: int = 13
    hub_background: int = Field(4000, ge=0, description="Sentences the hub levels are measured over (hubness).")
    threads: int | None = Field(None, ge=1)
    device: str | None = None
    backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx", description="The encoder backend for spans and sentences on a CPU (a GPU runs torch). fp32 ONNX: the "
        "same links as torch (vectors within 3e-7; benchmarks/linker_backends.py), as fast at 2 threads and faster at "
        "1. Not int8: int8 queries lost 0.028 R@1 on "
        "TECH against torch and 0.016 / 0.009 sentence RP@5 (parity allows 0.005).")
    index_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx", description="The encoder backend that embeds the taxonomy's names and texts. fp32 ONNX: the same "
        "vectors as torch, faster on a CPU. Not int8: with the synonym runs the int8 index lost 0.018 mean R@1 "
        "(0.007 with int8 texts and fp32 names), over the 0.005 parity.")


class LinkMatch(BaseModel):
    uri: str
    label: str
    score: float


class LinkResult(BaseModel):
    skill: str
    matches: list[LinkMatch] = Field(description="The top_k skills by fused score, best first.")
    linked: LinkMatch | None = Field(description="The best match when its score clears the threshold, else null.")


def _max_by_owner(S: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Column-block maxima: ``S`` (n, strings) with each skill's strings contiguous -> (n, skills)."""
    if S.shape[0] == 0:
        return np.zeros((0, len(starts)), dtype=np.float32)
    return np.maximum.reduceat(S, starts, axis=1)


def _starts(owner: Sequence[int]) -> np.ndarray:
    owner = np.asarray(owner)
    return np.concatenate([[0], np.nonzero(np.diff(owner))[0] + 1]).astype(np.int64)


class ESCOLinker:
    """Dense + lexical candidates over a taxonomy, a context rerank, and abstention."""

    def __init__(self, cfg: LinkerConfig, taxonomy: Taxonomy, encoder_path: str, short_emb: np.ndarray,
                 short_owner: np.ndarray, text_emb: np.ndarray, threshold: float = 0.5,
                 metrics: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.taxonomy = taxonomy
        self.encoder_path = encoder_path
        self.short_emb = short_emb.astype(np.float32)
        self.short_owner = np.asarray(short_owner, dtype=np.int64)
        self.text_emb = text_emb.astype(np.float32)
        self.threshold = float(threshold)
        self.metrics = metrics or {}
        self.lex_strings, lex_owner = taxonomy.lexical_strings()
        self._lex_starts = _starts(lex_owner)
        self._short_starts = _starts(self.short_owner)
        self.uris = taxonomy.skills["uri"].tolist()
        self.labels = taxonomy.skills["label"].tolist()
        self._uri_rows = {u: i for i, u in enumerate(self.uris)}
        self.label_length = np.minimum([len(str(lab).split()) for lab in self.labels], BREVITY_WORDS
                                       ).astype(np.float32) / BREVITY_WORDS
        self._encoders: dict[int, Any] = {}
        self.onnx_dir: Path | None = None
        self.retriever: Retriever | None = None
        self.hub_levels: np.ndarray | None = None  # per skill, its background level (common.linking.hubness)
        self.sentence_gate: SentenceGate | None = None  # which sentences can carry a skill
        self._sentence_encoder: Any = None

    def uri_row(self, uri: str) -> int | None:
        """The taxonomy row (score column) of a skill URI; None for a URI the taxonomy lacks."""
        return self._uri_rows.get(uri)

    # ---- encoding ---------------------------------------------------------------------------
    def encoder(self, max_length: int | None = None) -> Any:
        from common.text.embeddings import Encoder

        n = max_length or self.cfg.max_length
        if n not in self._encoders:
            shared = next(iter(self._encoders.values()), None)  # one model in memory, two truncation lengths
            self._encoders[n] = shared.with_max_length(n) if shared is not None else Encoder(
                self.encoder_path, device=self.cfg.device, max_length=n, num_threads=self.cfg.threads,
                onnx_dir=self.onnx_dir, backend=self._query_backend())
        return self._encoders[n]

    def sentence_encoder(self) -> Any:
        """What encodes a posting's sentences: the trained retriever when the linker has one, else
        its own encoder at the long-text length."""
        if self.retriever is None:
            return self.encoder(self.cfg.text_max_length)
        if self._sentence_encoder is None:
            from common.text.embeddings import Encoder

            r = self.retriever
            self._sentence_encoder = Encoder(
                r.encoder_path, device=self.cfg.device, max_length=self.cfg.text_max_length,
                num_threads=self.cfg.threads, onnx_dir=r.onnx_dir,
                backend=self._query_backend() if r.onnx_dir is not None else "torch")
        return self._sentence_encoder

    def sentence_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(short names, long texts) embedded by the sentence encoder, in ``short_owner`` order."""
        if self.retriever is None:
            return self.short_emb, self.text_emb
        return self.retriever.short_emb, self.retriever.text_emb

    @property
    def backend(self) -> str:
        return self.encoder().backend

    def _query_backend(self) -> str:
        """``cfg.backend`` on a CPU; torch on a GPU, where the ONNX exports bring nothing."""
        from common.core.settings import resolve_device

        return self.cfg.backend if resolve_device(self.cfg.device) == "cpu" else "torch"

    # ---- scoring ----------------------------------------------------------------------------
    def components(self, spans: Sequence[str], contexts: Sequence[str | None] | None = None) -> dict[str, np.ndarray]:
        """The per-skill score matrices (n spans x n skills) that ``scores`` fuses. Sentences are
        encoded only when the config weighs them: they cost four times the spans."""
        from rapidfuzz import fuzz, process, utils

        spans = [" ".join(str(s).split()) for s in spans]
        Q = self.encoder().encode(spans) if spans else np.zeros((0, self.short_emb.shape[1]), dtype=np.float32)
        out = {
            "dense": _max_by_owner(Q @ self.short_emb.T, self._short_starts),
            "text": Q @ self.text_emb.T,
            "lexical": _max_by_owner(
                process.cdist(spans, self.lex_strings, scorer=fuzz.ratio, processor=utils.default_process,
                              dtype=np.float32, workers=1) / 100.0, self._lex_starts) if spans else
            np.zeros((0, len(self.uris)), dtype=np.float32),
        }
        if contexts is not None and any(c for c in contexts) and self.cfg.weights.context > 0:
            idx = [i for i, c in enumerate(contexts) if c]
            C = self.encoder(self.cfg.text_max_length).encode([str(contexts[i]) for i in idx])
            ctx = np.zeros_like(out["text"])
            ctx[idx] = C @ self.text_emb.T
            out["context"] = ctx
            out["has_context"] = np.array([bool(c) for c in contexts])
        return out

    def fuse(self, parts: dict[str, np.ndarray], weights: FusionWeights | None = None) -> np.ndarray:
        """Weighted mean of the components less the brevity prior; the context term only for spans
        that have a sentence, and only over each span's ``candidates`` best skills (the rerank)."""
        w = weights or self.cfg.weights
        base = w.dense * parts["dense"] + w.text * parts["text"] + w.lexical * parts["lexical"]
        total = w.dense + w.text + w.lexical
        prior = (w.brevity * self.label_length)[None, :]
        fused = base / max(total, 1e-9) - prior
        if "context" in parts and w.context > 0:
            k = min(self.cfg.candidates, fused.shape[1])
            rerank = (base + w.context * parts["context"]) / (total + w.context) - prior
            cand = np.argpartition(-fused, k - 1, axis=1)[:, :k]
            has = parts["has_context"]
            rows = np.nonzero(has)[0]
            floor = fused.min(axis=1, keepdims=True)
            out = fused.copy()
            out[rows] = floor[rows]  # outside the candidates a span with context cannot win
            r = rows[:, None]
            out[r, cand[rows]] = rerank[r, cand[rows]]
            return out
        return fused

    def scores(self, spans: Sequence[str], contexts: Sequence[str | None] | None = None) -> np.ndarray:
        return self.fuse(self.components(spans, contexts))

    def link(self, spans: Sequence[str], contexts: Sequence[str | None] | None = None, top_k: int = 5,
             threshold: float | None = None) -> list[LinkResult]:
        """Per span, the ``top_k`` skills and the link (null when the best is below the threshold)."""
        if contexts is not None and len(contexts) != len(spans):
            raise ValueError(f"{len(contexts)} contexts for {len(spans)} spans: give one sentence per span or none")
        S = self.scores(spans, contexts)
        out = []
        for span, row, linked in zip(spans, S, self.best_links(S, threshold), strict=True):
            k = min(top_k, len(row))
            top = np.argpartition(-row, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
            top = top[np.argsort(-row[top], kind="stable")]
            matches = [self._match(row, j) for j in top]
            out.append(LinkResult(skill=str(span), matches=matches, linked=linked))
        return out

    def best_links(self, S: np.ndarray, threshold: float | None = None) -> list[LinkMatch | None]:
        """Per row of fused scores, the best skill when its (rounded) score clears the threshold:
        the one rule for a link, whether it comes from ``link`` or from a posting's skills."""
        if not S.shape[1]:
            return [None] * len(S)
        thr = self.threshold if threshold is None else float(threshold)
        matches = [self._match(row, int(j)) for row, j in zip(S, S.argmax(axis=1), strict=True)]
        return [m if m.score >= thr else None for m in matches]

    def _match(self, row: np.ndarray, j: int) -> LinkMatch:
        return LinkMatch(uri=self.uris[j], label=self.labels[j], score=round(float(row[j]), 4))

    def groups_of(self, uri: str, level: int) -> list[str]:
        """The taxonomy's own groups of a skill at ``level`` (empty for held-out skills)."""
        row = self._uri_rows.get(uri)
        if row is None:
            return []
        return list(self.taxonomy.skills.at[row, f"groups_l{level}"])

    # ---- persistence ------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Folder: ``linker.json`` (config, threshold, metrics, encoder), ``index.npz`` (float16
        vectors), ``taxonomy.parquet``, and ``encoder/`` when the encoder was adapted."""
        import shutil

        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        enc_path = self.encoder_path
        if Path(enc_path).resolve() != Path(encoder_or_default(None)).resolve():
            target = d / "encoder"
            if Path(enc_path).resolve() != target.resolve():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(enc_path, target)
            enc_path = "encoder"
        if self.cfg.backend != "torch":
            keep_onnx_exports(self.onnx_dir, d)
        np.savez(d / INDEX_FILE, short_emb=self.short_emb.astype(np.float16), short_owner=self.short_owner,
                 text_emb=self.text_emb.astype(np.float16))
        self.taxonomy.skills.to_parquet(d / TAXONOMY_FILE, index=False)
        if self.retriever is not None:
            self.retriever.save(d / RETRIEVER_DIR)
        save_levels(d, self.hub_levels)
        if self.sentence_gate is not None:
            self.sentence_gate.save(d)
        meta = {"kind": "linker", "config": self.cfg.model_dump(mode="json"), "threshold": self.threshold,
                "encoder": enc_path, "taxonomy": self.taxonomy.version, "skills": len(self.taxonomy),
                "short_strings": len(self.short_owner), "metrics": self.metrics}
        (d / LINKER_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None) -> ESCOLinker:
        import pandas as pd

        d = Path(model_dir)
        if not (d / LINKER_FILE).exists():
            raise FileNotFoundError(f"{d} is not a linker folder (no {LINKER_FILE})")
        meta = json.loads((d / LINKER_FILE).read_text(encoding="utf-8"))
        config = meta["config"]
        weights = config.get("weights")
        if weights is not None and "brevity" not in weights:  # built before the prior: tuned without it
            config = {**config, "weights": {**weights, "brevity": 0.0}}
        cfg = LinkerConfig.model_validate({**config, **({"device": device} if device else {})})
        enc = meta["encoder"]
        enc_path = str(d / enc) if enc == "encoder" else encoder_or_default(enc)
        idx = np.load(d / INDEX_FILE)
        skills = pd.read_parquet(d / TAXONOMY_FILE)
        for col in ("alt_labels", "groups_l1", "groups_l2"):
            skills[col] = skills[col].map(list)
        linker = cls(cfg, Taxonomy(skills, meta.get("taxonomy", "")), enc_path, idx["short_emb"], idx["short_owner"],
                     idx["text_emb"], meta["threshold"], meta.get("metrics"))
        linker.onnx_dir = saved_onnx_dir(d)
        linker.retriever = Retriever.load(d / RETRIEVER_DIR)
        linker.hub_levels = load_levels(d)
        linker.sentence_gate = SentenceGate.load(d)
        return linker


def keep_onnx_exports(onnx_dir: Path | None, folder: Path) -> None:
    """Copy an encoder's ONNX exports (``ONNX_FILES_KEPT``) into a model folder, so that it serves
    them without the cache they were made in."""
    import shutil

    if onnx_dir is None or Path(onnx_dir).resolve() == Path(folder).resolve():
        return
    for name in ONNX_FILES_KEPT:
        if (Path(onnx_dir) / name).exists():
            shutil.copy2(Path(onnx_dir) / name, Path(folder) / name)


def saved_onnx_dir(folder: Path) -> Path | None:
    """``folder`` when it holds a kept fp32 export (``keep_onnx_exports``), else None (torch)."""
    return folder if (folder / ONNX_FILES_KEPT[0]).exists() else None


def encoder_onnx_dir(cfg: LinkerConfig, encoder_path: str | None = None) -> Path | None:
    """The ONNX exports the config uses (fp32, and int8 when a backend asks for it) of the linker's
    encoder, made once per encoder under ``<cache_dir>/onnx/`` (seconds); None when neither the
    index nor the queries use one."""
    import hashlib

    from common.core.settings import get_settings
    from common.text.embeddings import encoder_fingerprint
    from common.text.onnx_backend import ONNX_FILES

    needed = {cfg.backend, cfg.index_backend} - {"torch"}
    if not needed:
        return None
    path = encoder_path or encoder_or_default(cfg.encoder)
    out = get_settings().cache_dir / "onnx" / hashlib.sha256(encoder_fingerprint(path).encode()).hexdigest()[:16]
    if not all((out / ONNX_FILES[b]).exists() for b in needed):
        from transformers import AutoModel

        from common.text.onnx_backend import export_encoder

        logger.info("exporting the linker's encoder to ONNX in %s", out)
        export_encoder(AutoModel.from_pretrained(path), out, quantize="onnx-int8" in needed)
    return out


def build_index(cfg: LinkerConfig, taxonomy: Taxonomy, encoder_path: str, progress: bool = False,
                use_cache: bool = True, onnx_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings of every short name (and its skill row) and of every long text, in
    ``cfg.index_backend`` (an export in ``onnx_dir``; torch without one). Each list is embedded
    in length-sorted batches (``Encoder.encode``)."""
    from common.text.embeddings import Encoder, embed_texts

    strings, owner = taxonomy.short_strings()
    enc = Encoder(encoder_path, device=cfg.device, max_length=cfg.max_length, num_threads=cfg.threads,
                  onnx_dir=onnx_dir, backend=cfg.index_backend)
    short = embed_texts(strings, encoder=enc, use_cache=use_cache, progress=progress)
    text = embed_texts(taxonomy.skills["text"].tolist(), encoder=enc.with_max_length(cfg.text_max_length),
                       use_cache=use_cache, progress=progress)
    return short, np.asarray(owner, dtype=np.int64), text


def adapt_encoder(cfg: LinkerConfig, taxonomy: Taxonomy, out_dir: Path, progress: bool = False) -> str:
    """Contrastive adaptation on the taxonomy's own synonym pairs (seed 003 with free positives)."""
    from common.text.mirror_bert import MirrorConfig, train_mirror_bert

    mcfg = MirrorConfig.model_validate({"temperature": 0.05, "span_mask": 2, "batch_size": 32, **(cfg.adapt or {}),
                                        "encoder": encoder_or_default(cfg.encoder), "seed": cfg.seed,
                                        "threads": (cfg.adapt or {}).get("threads", cfg.threads)})
    res = train_mirror_bert(mcfg, taxonomy.skills["label"].tolist(), out_dir, progress=progress,
                            pairs=taxonomy.adaptation_pairs())
    return str(res.model_dir)


def build_linker(cfg: LinkerConfig, taxonomy: Taxonomy | None = None, out_dir: str | Path | None = None,
                 validation: dict[str, Any] | None = None, progress: bool = True,
                 use_cache: bool = True) -> ESCOLinker:
    """Adapt the encoder (``cfg.adapt``), index the taxonomy, pick the abstention threshold on
    ``validation`` (default: the Decorte files when present), score, and save to ``out_dir``."""
    from common.linking.evaluate import choose_threshold, evaluate_linker, load_validation
    from common.linking.taxonomy import load_taxonomy

    t0 = time.perf_counter()
    taxonomy = (taxonomy if taxonomy is not None else load_taxonomy()).with_names(cfg.names)
    timings: dict[str, float] = {}
    encoder_path = encoder_or_default(cfg.encoder)
    if cfg.adapt:
        import tempfile

        t = time.perf_counter()
        target = Path(out_dir) / "encoder" if out_dir else Path(tempfile.mkdtemp(prefix="linker-encoder-"))
        encoder_path = adapt_encoder(cfg, taxonomy, target, progress=progress)
        timings["adapt"] = time.perf_counter() - t
    t = time.perf_counter()
    onnx_dir = encoder_onnx_dir(cfg, encoder_path)
    short, owner, text = build_index(cfg, taxonomy, encoder_path, progress=progress, use_cache=use_cache,
                                     onnx_dir=onnx_dir)
    timings["index"] = time.perf_counter() - t
    linker = ESCOLinker(cfg, taxonomy, encoder_path, short, owner, text, threshold=cfg.threshold or 0.5)
    linker.onnx_dir = onnx_dir
    if validation is None:
        validation = load_validation(missing_ok=True)
    if validation:
        if cfg.threshold is None:
            linker.threshold = choose_threshold(linker, validation, leave_unlinked=cfg.leave_unlinked)
        linker.metrics = evaluate_linker(linker, validation)
    if cfg.retriever is not None:
        t = time.perf_counter()
        linker.retriever = build_retriever(linker, cfg.retriever, out_dir, progress=progress, use_cache=use_cache)
        timings["retriever"] = time.perf_counter() - t
        linker.metrics["retriever"] = linker.retriever.info
    timings.update(fit_skill_filters(linker, progress=progress))
    linker.metrics["timings"] = timings
    linker.metrics["build_seconds"] = time.perf_counter() - t0
    if out_dir is not None:
        linker.save(out_dir)
    return linker


def build_retriever(linker: ESCOLinker, cfg: RetrieverConfig, out_dir: str | Path | None, progress: bool = True,
                    use_cache: bool = True) -> Retriever:
    """Train the sentence retriever (``common.linking.retriever``) into ``<out_dir>/retriever`` and
    embed the taxonomy with it, as the linker's index is embedded."""
    import tempfile

    from common.linking.retriever import train_retriever

    target = Path(out_dir) / RETRIEVER_DIR if out_dir else Path(tempfile.mkdtemp(prefix="linker-retriever-"))
    path, info = train_retriever(linker, cfg, target, progress=progress)
    return embed_retriever(linker, path, info, progress=progress, use_cache=use_cache)


def embed_retriever(linker: ESCOLinker, encoder_path: str | Path, info: dict[str, Any] | None = None,
                    progress: bool = True, use_cache: bool = True) -> Retriever:
    """A trained retriever encoder with its own index of the linker's taxonomy, embedded the way the
    linker's index is (``cfg.index_backend``, its ONNX export when one is used)."""
    onnx_dir = encoder_onnx_dir(linker.cfg, str(encoder_path))
    short, _, text = build_index(linker.cfg, linker.taxonomy, str(encoder_path), progress=progress,
                                 use_cache=use_cache, onnx_dir=onnx_dir)
    return Retriever(str(encoder_path), short, text, onnx_dir, info or {})


def latest_model_dir() -> Path:
    """``<models_dir>/<linker_model_name>/latest``: where ``build-linker`` saves by default."""
    from common.core.artifacts import latest_dir
    from common.core.settings import get_settings

    return latest_dir(get_settings().linker_model_name)


def default_model_dir() -> Path:
    """The registry champion's folder when there is one, else ``latest_model_dir()``."""
    from common import registry
    from common.core.settings import get_settings

    return registry.champion_or_latest(get_settings().linker_model_name, latest_model_dir())
