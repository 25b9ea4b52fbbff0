"""Text to model input: words with their sub-word pieces, labels projected from gold tokens, and
striding windows batched for the encoder (windows are planned by ``common.keywords.windows``)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.core.types import KEYWORD_TYPES, Posting
from common.keywords.config import LABELS
from common.keywords.windows import MAX_PIECES_PER_WORD, Window, line_ids, plan_windows
from common.text.spans import (
    blank_control_chars,
    posting_text,
    posting_token_offsets,
    repair_bio,
)
from common.text.words import word_tokens


@dataclass
class Doc:
    """One text as words, with their pieces, line numbers and (for training) per-layer labels."""

    words: list[str]
    offsets: list[tuple[int, int]]
    lines: list[int]
    pieces: list[list[int]]
    labels: np.ndarray | None = None  # [n_words, 2] class ids


def word_pieces(tokenizer: Any, words: list[str]) -> list[list[int]]:
    """Each word's sub-word ids, the word tokenised on its own (at most ``MAX_PIECES_PER_WORD``)."""
    if not words:
        return []
    ids = tokenizer(words, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    return [(p[:MAX_PIECES_PER_WORD] if p else [unk]) for p in ids]


def text_pieces(tokenizer: Any, text: str, offsets: list[tuple[int, int]]) -> list[list[int]] | None:
    """``word_pieces`` of the words at ``offsets`` from one tokenisation of the whole text: each
    sub-word goes to the word its first character lies in. The same ids on 1.5 M words of
    SkillSpan and unlabelled postings, in half the time (a fifth of a batch extraction went to
    tokenising word by word). None unless the tokenizer is a fast WordPiece one with BERT's
    pre-tokenizer (splits at spaces and punctuation, so a word's pieces do not depend on its
    neighbours; a byte-level BPE marks the leading space): then ``word_pieces`` does it."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if (backend is None or type(backend.pre_tokenizer).__name__ != "BertPreTokenizer"
            or type(backend.model).__name__ != "WordPiece"):
        return None
    if backend.truncation is not None or backend.padding is not None:
        backend.no_truncation()  # what tokenizer(text) without truncation/padding sets before each call
        backend.no_padding()
    if not offsets:
        return []
    enc = backend.encode(text, add_special_tokens=False)
    ids = np.asarray(enc.ids, dtype=np.int64)
    starts = np.asarray([o[0] for o in enc.offsets], dtype=np.int64)
    w_start = np.asarray([o[0] for o in offsets], dtype=np.int64)
    w_end = np.asarray([o[1] for o in offsets], dtype=np.int64)
    owner = np.searchsorted(w_start, starts, side="right") - 1
    inside = (owner >= 0) & (starts < w_end[np.clip(owner, 0, None)])
    owner, ids = owner[inside], ids[inside].tolist()
    bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(offsets)))]).tolist()
    unk = tokenizer.unk_token_id
    return [ids[a:b][:MAX_PIECES_PER_WORD] or [unk] for a, b in zip(bounds, bounds[1:])]


def doc_from_text(tokenizer: Any, text: str) -> Doc:
    text = blank_control_chars(text)  # same length: offsets still point into the caller's text
    words, offsets = word_tokens(text)
    pieces = text_pieces(tokenizer, text, offsets)
    return Doc(words, offsets, line_ids(text, offsets), pieces if pieces is not None else word_pieces(tokenizer, words))


def doc_from_posting(tokenizer: Any, posting: Posting) -> Doc:
    """A training document: the posting's text split by the word splitter (as at inference),
    each word labelled from the gold token it lies in (see ``project_labels``)."""
    doc = doc_from_text(tokenizer, posting_text(posting))
    gold_offsets = [o for sent in posting_token_offsets(posting) for o in sent]
    gold = []
    for sent in posting.sentences:
        layer_ids = []
        for ktype in KEYWORD_TYPES:
            tags = repair_bio(sent.tags.get(ktype) or ["O"] * len(sent.tokens))
            layer_ids.append([LABELS.index(t[0]) for t in tags])
        gold.extend(zip(*layer_ids))
    if len(gold) != len(gold_offsets):
        raise ValueError(f"posting {posting.doc_id}: tags do not match its tokens")
    doc.labels = project_labels(doc.offsets, gold_offsets, np.asarray(gold, dtype=np.int64).reshape(-1, 2))
    return doc


def project_labels(word_offsets: Sequence[tuple[int, int]], token_offsets: Sequence[tuple[int, int]],
                   token_labels: np.ndarray) -> np.ndarray:
    """Per word, per layer, the label id of the gold token the word lies in: the token's own
    label for its first word, ``I`` for the token's later words inside a span, ``O`` outside.

    SkillSpan's tokens and the splitter's words agree almost everywhere; where a token holds
    several words (``you!`` -> ``you`` ``!``) the span still covers the whole token.
    """
    out = np.zeros((len(word_offsets), token_labels.shape[1]), dtype=np.int64)
    starts = [s for s, _ in token_offsets]
    last_token = -1
    for i, (ws, _we) in enumerate(word_offsets):
        t = bisect.bisect_right(starts, ws) - 1
        if t < 0 or ws >= token_offsets[t][1]:
            continue  # not inside a token (cannot happen for text built from the tokens)
        if t == last_token:
            out[i] = np.where(token_labels[t] > 0, LABELS.index("I"), 0)
        else:
            out[i] = token_labels[t]
        last_token = t
    return out


@dataclass
class WindowItem:
    """One window of one doc, ready to batch."""

    doc: int
    window: Window
    input_ids: list[int]
    word_pos: list[int]  # position of each word's first piece in input_ids
    labels: np.ndarray | None
    soft: np.ndarray | None = None  # teacher label probabilities [n_words, 2, 3] (distillation)


def window_items(docs: list[Doc], tokenizer: Any, max_length: int, stride: int) -> list[WindowItem]:
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    items = []
    max_pieces = max_length - 2
    for d, doc in enumerate(docs):
        if not doc.words:
            continue
        lens = [min(len(p), max_pieces) for p in doc.pieces]
        for w in plan_windows(lens, doc.lines, max_pieces, stride):
            ids = [cls_id]
            pos = []
            for i in range(w.start, w.end):
                pos.append(len(ids))
                ids.extend(doc.pieces[i][: lens[i]])
            ids = ids[: max_length - 1] + [sep_id]
            labels = doc.labels[w.start : w.end] if doc.labels is not None else None
            items.append(WindowItem(d, w, ids, pos, labels))
    return items


def collate(items: Sequence[WindowItem], pad_id: int) -> dict[str, Any]:
    import torch

    n = len(items)
    t = max(len(it.input_ids) for it in items)
    w = max(len(it.word_pos) for it in items)
    input_ids = torch.full((n, t), pad_id, dtype=torch.long)
    attention = torch.zeros((n, t), dtype=torch.long)
    word_pos = torch.zeros((n, w), dtype=torch.long)
    word_mask = torch.zeros((n, w), dtype=torch.bool)
    labels = torch.zeros((n, w, 2), dtype=torch.long)
    soft = torch.full((n, w, 2, len(LABELS)), 1.0 / len(LABELS)) if any(it.soft is not None for it in items) else None
    for i, it in enumerate(items):
        input_ids[i, : len(it.input_ids)] = torch.tensor(it.input_ids)
        attention[i, : len(it.input_ids)] = 1
        word_pos[i, : len(it.word_pos)] = torch.tensor(it.word_pos)
        word_mask[i, : len(it.word_pos)] = True
        if it.labels is not None:
            labels[i, : len(it.word_pos)] = torch.from_numpy(it.labels)
        if soft is not None and it.soft is not None:
            soft[i, : len(it.word_pos)] = torch.from_numpy(it.soft)
    out = {"input_ids": input_ids, "attention_mask": attention, "word_pos": word_pos,
           "word_mask": word_mask, "labels": labels}
    if soft is not None:
        out["soft"] = soft
        out["has_soft"] = torch.tensor([it.soft is not None for it in items], dtype=torch.bool)
    if any(it.labels is None for it in items):  # unlabelled text: learns from the teacher alone
        out["gold"] = torch.tensor([it.labels is not None for it in items], dtype=torch.bool)
    return out
