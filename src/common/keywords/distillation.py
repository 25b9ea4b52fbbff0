"""Knowledge distillation: a teacher tagger's per-word label distributions for the student's windows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.core.types import Posting
from common.keywords.encoding import WindowItem
from common.keywords.tagger import KeywordTagger
from common.text.spans import (
    posting_text,
)

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
