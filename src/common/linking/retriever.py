"""The sentence retriever: an encoder trained by distant supervision to rank ESCO skills for a
sentence, which gives a posting's sentences their *sentence evidence* (``common.linking.skills``).

Why: plain MiniLM scores a sentence against a skill by general similarity, and about a quarter of
the sentences annotators tie to a skill name no keyword for it. No annotated (sentence, skill)
pairs may be trained on (the Decorte files are the validation data), so the pairs come from text
whose skills the platform can name confidently itself, in the manner of Decorte et al.:

- SkillSpan **train** sentences, each paired with the ESCO label of every gold span the linker
  links with ``margin`` over its abstention threshold;
- duty sentences of ``../shared/data/unlabeled/`` (O*NET task statements), each paired with the
  labels of the keywords a keyword tagger finds there, linked the same way.

Training is the InfoNCE loop of ``common.text.mirror_bert`` on those pairs (the other pairs of the
batch are the negatives; no string twice in a batch). The retriever then embeds the taxonomy's
names and long texts itself; the linker keeps its own encoder for keyword spans, whose links the
retriever does not change. Saved in ``<linker>/retriever/`` (an HF encoder, ``index.npz``).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from common.core.config import StrictModel

logger = logging.getLogger(__name__)

RETRIEVER_DIR = "retriever"
RETRIEVER_INFO = "retriever.json"
ONET_SOURCE = "onet-18.1-task-statements"
SCORE_CHUNK = 512  # phrases scored at once: 512 x 13,574 skills x 3 components stay under 100 MB


class RetrieverConfig(StrictModel):
    """How the sentence retriever is trained (``LinkerConfig.retriever``; null: plain MiniLM)."""

    epochs: float = Field(1.0, gt=0, description="Passes over the pairs (about 165 steps of 32 on the full data).")
    max_steps: int | None = Field(None, ge=1, description="Cap on training steps (tests, smoke runs).")
    batch_size: int = Field(32, ge=2)
    lr: float = Field(2e-5, gt=0)
    temperature: float = Field(0.05, gt=0)
    max_length: int = Field(64, ge=8, description="Sub-words per sentence or label while training.")
    margin: float = Field(0.05, ge=0, description="A span or keyword makes a pair only when its link scores this "
                          "much over the linker's threshold.")
    duty_sentences: int = Field(6000, ge=0, description="Unlabelled duty sentences tagged for pairs (0: none).")
    tagger: str | None = Field(None, description="Keyword model folder for the duty sentences; null: the fast "
                               "tier's, else the accurate tier's (none found: SkillSpan pairs only).")
    seed: int = 13


@dataclass
class Retriever:
    """The sentence side of a linker: its encoder folder and its own embeddings of the taxonomy."""

    encoder_path: str
    short_emb: np.ndarray
    text_emb: np.ndarray
    onnx_dir: Path | None = None
    info: dict[str, Any] | None = None

    def save(self, folder: str | Path) -> Path:
        import shutil

        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        if Path(self.encoder_path).resolve() != d.resolve():
            for f in Path(self.encoder_path).iterdir():
                if f.is_file():
                    shutil.copy2(f, d / f.name)
        from common.linking.linker import keep_onnx_exports

        keep_onnx_exports(self.onnx_dir, d)
        np.savez(d / "index.npz", short_emb=self.short_emb.astype(np.float16), text_emb=self.text_emb.astype(np.float16))
        (d / RETRIEVER_INFO).write_text(json.dumps(self.info or {}, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(cls, folder: str | Path) -> Retriever | None:
        """The retriever saved in ``folder``; None when there is none (a linker built without it)."""
        from common.linking.linker import saved_onnx_dir

        d = Path(folder)
        if not (d / "index.npz").exists():
            return None
        idx = np.load(d / "index.npz")
        info = json.loads((d / RETRIEVER_INFO).read_text(encoding="utf-8")) if (d / RETRIEVER_INFO).exists() else {}
        return cls(str(d), idx["short_emb"].astype(np.float32), idx["text_emb"].astype(np.float32),
                   saved_onnx_dir(d), info)


# ---- distant supervision ----------------------------------------------------------------------

def skillspan_items(postings: Sequence[Any]) -> list[tuple[str, str]]:
    """(sentence, gold span) for every Skill and Knowledge span of SkillSpan postings."""
    from common.text.spans import bio_to_spans

    items = []
    for post in postings:
        for sent in post.sentences:
            text = " ".join(sent.tokens)
            for tags in sent.tags.values():
                items += [(text, " ".join(sent.tokens[a:b])) for a, b, _ in bio_to_spans(tags)]
    return items


def duty_sentences(path: str | Path, limit: int, seed: int) -> list[str]:
    """``limit`` O*NET task statements of the unlabelled file, in a seeded random order."""
    from common.keywords.unlabeled import source_texts

    if limit <= 0:
        return []
    texts = [" ".join(t.split()) for t in source_texts(path, ONET_SOURCE)]
    texts = [t for t in dict.fromkeys(texts) if t]
    random.Random(seed).shuffle(texts)
    return texts[:limit]


def confident_pairs(linker: Any, items: Sequence[tuple[str, str]], margin: float) -> list[tuple[str, str]]:
    """(sentence, ESCO label) for each (sentence, phrase) whose phrase the linker links with
    ``margin`` over its threshold; each distinct phrase is scored once."""
    from common.linking.phrases import phrase_key, unique_phrases

    phrases = unique_phrases(p for _, p in items)
    label = {}
    for i in range(0, len(phrases), SCORE_CHUNK):  # a chunk's score matrices, not all phrases x all skills at once
        chunk = phrases[i:i + SCORE_CHUNK]
        links = linker.best_links(linker.scores(chunk), linker.threshold + margin)  # the link rule, raised
        label.update({phrase_key(p): m.label for p, m in zip(chunk, links, strict=True) if m is not None})
    return [(s, label[phrase_key(p)]) for s, p in items if phrase_key(p) in label]


def distant_pairs(linker: Any, cfg: RetrieverConfig) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The training pairs and how many came from where (SkillSpan train; tagged duty sentences)."""
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan

    items = skillspan_items(load_skillspan("train"))
    pairs = confident_pairs(linker, items, cfg.margin)
    counts = {"skillspan_spans": len(items), "skillspan_pairs": len(pairs)}
    duties = duty_sentences(get_settings().shared_data_dir / "unlabeled" / "postings.jsonl", cfg.duty_sentences,
                            cfg.seed)
    tagger_dir = _tagger_dir(cfg) if duties else None
    if tagger_dir is not None:
        from common.keywords.tagger import KeywordTagger

        tagger = KeywordTagger.load(tagger_dir)
        found = tagger.extract(duties)
        duty = confident_pairs(linker, [(s, k.text) for s, ks in zip(duties, found, strict=True) for k in ks],
                               cfg.margin)
        pairs += duty
        counts.update(duty_sentences=len(duties), duty_pairs=len(duty))
    elif duties:
        logger.info("no keyword model found for the duty sentences: the retriever learns from SkillSpan pairs only")
    return pairs, counts


def _tagger_dir(cfg: RetrieverConfig) -> Path | None:
    """``cfg.tagger``, else the fast tier's model (what the measured retriever learnt from: it tags the
    duty sentences in a minute), else whichever tier there is; None when there is no keyword model."""
    if cfg.tagger:
        return Path(cfg.tagger)
    from common.keywords.tagger import default_model_dir

    for tier in ("fast", "auto"):
        try:
            return default_model_dir(tier)
        except FileNotFoundError:
            continue
    return None


def train_retriever(linker: Any, cfg: RetrieverConfig, out_dir: str | Path, progress: bool = True
                    ) -> tuple[Path, dict[str, Any]]:
    """Train the retriever from the linker's encoder on distant pairs; its folder and what it learnt from."""
    from common.text.mirror_bert import MirrorConfig, train_mirror_bert

    pairs, counts = distant_pairs(linker, cfg)
    if len(pairs) < cfg.batch_size:
        raise ValueError(f"only {len(pairs)} distant pairs for the sentence retriever (SkillSpan train missing?); "
                         "build with retriever: null to keep plain sentence similarity")
    mirror = MirrorConfig(encoder=linker.encoder_path, epochs=cfg.epochs, max_steps=cfg.max_steps,
                          batch_size=cfg.batch_size, lr=cfg.lr, temperature=cfg.temperature,
                          max_length=cfg.max_length, span_mask=0, seed=cfg.seed, threads=linker.cfg.threads,
                          device=linker.cfg.device)
    res = train_mirror_bert(mirror, [], out_dir, progress=progress, pairs=pairs)
    info = {**counts, "pairs": len(pairs), "steps": res.steps, "train_seconds": round(res.seconds, 1),
            "final_loss": res.final_loss, "config": cfg.model_dump()}
    return res.model_dir, info
