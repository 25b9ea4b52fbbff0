"""Sentences of a posting with their character offsets.

One splitter for every area that works per sentence (extractive summaries, ESCO skills ranked per
sentence): a sentence ends at ``. ! ? ;`` followed by space, or at a line break, because postings
are often lists whose lines carry no end punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENT_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|\s*\n+\s*")


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a text with its character offsets."""

    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[SentenceSpan]:
    """Sentences (and list lines) of ``text`` with offsets; blank pieces are dropped."""
    out, pos = [], 0
    for m in [*_SENT_END.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[pos:end]
        lead = len(piece) - len(piece.lstrip())
        s, e = pos + lead, pos + len(piece.rstrip())
        if e > s:
            out.append(SentenceSpan(s, e, text[s:e]))
        if m:
            pos = m.end()
    return out
