"""Extractive summaries: the sentences of a text that carry most of its keywords (seed 000).

A posting's keywords (from the tagger, or a topic's words found in it) mark what it is about;
the sentences holding most of them are a short summary in the posting's own words. Ties go to
the earlier sentence, and the chosen sentences are returned in document order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from common.core.types import Keyword
from common.text.sentences import SentenceSpan, split_sentences

__all__ = ["SentenceSpan", "extractive_summary", "split_sentences"]


def _keyword_hits(sent: SentenceSpan, keywords: Sequence[Keyword] | None, words: Sequence[str] | None) -> int:
    """Keywords inside the sentence: tagger spans by offset, plain words by whole-word match."""
    n = 0
    if keywords:
        n += sum(1 for k in keywords if k.start >= sent.start and k.end <= sent.end)
    if words:
        low = sent.text.lower()
        n += sum(len(re.findall(rf"(?<!\w){re.escape(w.lower())}(?!\w)", low)) for w in words if w)
    return n


def extractive_summary(
    text: str,
    keywords: Sequence[Keyword] | None = None,
    words: Sequence[str] | None = None,
    max_sentences: int = 3,
) -> list[str]:
    """Up to ``max_sentences`` sentences carrying the most keywords, in document order.

    ``keywords`` are tagger spans (char offsets into ``text``); ``words`` are plain words such as
    a topic's top words. Sentences with no keyword are never chosen unless nothing has any, in
    which case the first sentences stand in (a lead summary).
    """
    sents = split_sentences(text)
    if not sents or max_sentences <= 0:
        return []
    hits = [_keyword_hits(s, keywords, words) for s in sents]
    ranked = sorted(range(len(sents)), key=lambda i: (-hits[i], i))
    chosen = [i for i in ranked[:max_sentences] if hits[i] > 0] or list(range(min(max_sentences, len(sents))))
    return [sents[i].text for i in sorted(chosen)]
