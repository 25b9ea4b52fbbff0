"""Knowledge distillation: a teacher tagger's per-word label distributions for the student's windows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.core.types import Posting
from common.keywords.config import TaggerConfig
from common.keywords.encoding import WindowItem, doc_from_text, window_items
from common.keywords.tagger import KeywordTagger
from common.text.spans import posting_text

logger = logging.getLogger(__name__)


def teacher_probabilities(teacher_dir: str | Path, postings: Sequence[Posting], device: str,
                          progress: bool = False) -> list[np.ndarray]:
    """Per posting, the teacher tagger's label probabilities per word ``[n_words, 2, 3]`` over the
    same words the student sees (both split text with ``common.text.words``)."""
    teacher = KeywordTagger.load(teacher_dir, device=device)
    texts = [posting_text(p) for p in postings]
    if progress:
        logger.info("teacher %s: labelling %d training postings", teacher_dir, len(texts))
    return teacher.word_probabilities(texts)


def attach_teacher(items: list[WindowItem], probs: list[np.ndarray]) -> None:
    """Give each training window the teacher's distributions for the words it owns."""
    for it in items:
        it.soft = probs[it.doc][it.window.start : it.window.end].astype(np.float32)


def unlabeled_items(cfg: TaggerConfig, tokenizer: Any, first_doc: int) -> list[WindowItem]:
    """Training windows of the cached unlabelled passages (``cfg.unlabeled_cache``, the first
    ``cfg.unlabeled_fraction`` of them), each carrying the teacher's distributions and no gold
    labels; doc numbers continue from ``first_doc``."""
    from common.keywords.unlabeled import SoftLabelCache, default_cache_dir

    folder = cfg.unlabeled_cache
    if folder == "auto":
        if not cfg.teacher:
            raise ValueError("unlabeled_cache: auto needs a teacher (its labels' folder is named after it)")
        folder = str(default_cache_dir(cfg.teacher))
    cached = SoftLabelCache(folder).load(cfg.unlabeled_fraction)
    docs = [doc_from_text(tokenizer, p.text) for p in cached.passages]
    for doc, probs, passage in zip(docs, cached.probs, cached.passages):
        if len(doc.words) != len(probs):
            raise ValueError(f"{folder}: passage {passage.id} has {len(probs)} labelled words but "
                             f"splits into {len(doc.words)}; relabel it with this version")
    items = window_items(docs, tokenizer, cfg.max_length, cfg.stride)
    attach_teacher(items, cached.probs)
    for it in items:
        it.doc += first_doc
    logger.info("unlabelled text: %d passages, %d windows from %s", len(docs), len(items), folder)
    return items
