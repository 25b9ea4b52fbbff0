"""From per-word label scores to keywords: BIO-constrained Viterbi and span assembly over the text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.core.types import KEYWORD_TYPES, Keyword
from common.keywords.config import LABELS
from common.keywords.encoding import Doc
from common.text.spans import (
    bio_to_spans,
)
from common.text.words import is_punctuation, tidy_span

BIO_ALLOWED = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 1]], dtype=bool)  # from (row) -> to (col): O,B,I


def bio_viterbi(logp: np.ndarray) -> np.ndarray:
    """Most probable label path ``[n]`` under per-word log-probabilities ``[n, 3]`` (O, B, I)
    among well-formed BIO paths (no I at the start or after O).

    Per-word argmax followed by ``repair_bio`` turns a stray I into a new one-word span and
    splits spans at one uncertain word; decoding the best *valid* path instead keeps span
    boundaries consistent, as a CRF would, with no extra parameters.
    """
    return bio_viterbi_batch(np.asarray(logp)[None], np.array([len(logp)]))[0, : len(logp)]


def bio_viterbi_batch(logp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``bio_viterbi`` of many sequences at once: ``logp [B, T, 3]``, ``lengths [B]`` -> paths
    ``[B, T]`` (0 past each length). One numpy step per position for the whole batch, instead of
    one per position per sequence: decoding was 8 % of a batch extraction's time."""
    B, T = logp.shape[0], logp.shape[1]
    path = np.zeros((B, T), dtype=np.int64)
    if B == 0 or T == 0:
        return path
    lengths = np.asarray(lengths)
    trans = np.where(BIO_ALLOWED, 0.0, -np.inf)
    score = logp[:, 0] + np.array([0.0, 0.0, -np.inf])
    back = np.zeros((B, T, 3), dtype=np.int64)
    keep = np.broadcast_to(np.arange(3), (B, 3))
    for t in range(1, T):
        cand = score[:, :, None] + trans  # [B, from, to]
        active = (t < lengths)[:, None]
        back[:, t] = np.where(active, cand.argmax(1), keep)  # past the end: stay on the same label
        score = np.where(active, cand.max(1) + logp[:, t], score)
    rows = np.arange(B)
    path[:, T - 1] = score.argmax(1)
    for t in range(T - 1, 0, -1):
        path[:, t - 1] = back[rows, t, path[:, t]]
    path[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return path


def keywords_from_labels(text: str, doc: Doc, lab: np.ndarray, conf: np.ndarray) -> list[Keyword]:
    """The keywords of one text from its words' label ids and confidences ``[n_words, 2]``:
    spans per layer, never across a line, without punctuation or function words at either end,
    and none made only of function words or generic verbs and adverbs (``text.words.tidy_span``)."""
    kws: list[Keyword] = []
    for k, ktype in enumerate(KEYWORD_TYPES):
        tags = [LABELS[i] for i in lab[:, k]]
        start = 0
        for i in range(1, len(tags) + 1):
            if i < len(tags) and doc.lines[i] == doc.lines[start]:
                continue
            for s, e, _ in bio_to_spans(tags[start:i], ktype):
                s, e = trim_punctuation(doc.words, *tidy_span(doc.words, *trim_punctuation(doc.words, s + start,
                                                                                                 e + start)))
                if s >= e:
                    continue  # punctuation, function words or a generic verb or adverb only
                cs, ce = doc.offsets[s][0], doc.offsets[e - 1][1]
                score = float(np.clip(conf[s:e, k].mean(), 0.0, 1.0))
                kws.append(Keyword(start=cs, end=ce, text=text[cs:ce], type=ktype, score=score))
            start = i
    return sorted(kws, key=lambda kw: (kw.start, kw.end, kw.type))


def trim_punctuation(words: Sequence[str], s: int, e: int) -> tuple[int, int]:
    """The word range ``[s, e)`` without punctuation-only words at either end: a keyword never
    starts or ends with punctuation (``Python,`` or ``(AWS``)."""
    while s < e and is_punctuation(words[s]):
        s += 1
    while e > s and is_punctuation(words[e - 1]):
        e -= 1
    return s, e
