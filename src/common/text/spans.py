"""Token spans, BIO tags and character offsets.

SkillSpan gives tokens and BIO tags; people paste raw text. This module is the single place
that converts between the two worlds:

* ``bio_to_spans`` / ``spans_to_bio``: token-level spans <-> BIO tags,
* ``repair_bio``: make an ill-formed BIO sequence well formed (an ``I`` that starts a span
  becomes ``B``), the convention seqeval also uses when it reads such a sequence,
* ``posting_text`` / ``token_offsets``: rebuild a posting's text (tokens joined by one space,
  sentences by a newline) and the character offsets of every token,
* ``token_spans_to_char`` / ``char_spans_to_tokens``: move spans between the two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from common.core.types import KEYWORD_TYPES, Keyword, Posting

TokenSpan = tuple[int, int, str]  # (first token, last token + 1, type)
CharSpan = tuple[int, int, str]  # (start char, end char, type)


def _bare(tag: str) -> tuple[str, str | None]:
    """Split ``B-Skill`` into (``B``, ``Skill``); bare ``B`` gives (``B``, None)."""
    if "-" in tag:
        prefix, label = tag.split("-", 1)
        return prefix, label
    return tag, None


def repair_bio(tags: Sequence[str]) -> list[str]:
    """Return a well-formed copy of ``tags``.

    An ``I`` that does not continue a span of the same type becomes ``B`` (this keeps the
    tokens the model marked instead of dropping them); unknown prefixes become ``O``.
    Works on bare (``B``/``I``/``O``) and typed (``B-Skill``) tags alike.
    """
    out: list[str] = []
    prev_prefix, prev_label = "O", None
    for tag in tags:
        prefix, label = _bare(tag)
        if prefix not in ("B", "I", "O"):
            prefix, label = "O", None
        if prefix == "I" and (prev_prefix == "O" or prev_label != label):
            prefix = "B"
        out.append("O" if prefix == "O" else (prefix if label is None else f"{prefix}-{label}"))
        prev_prefix, prev_label = prefix, label
    return out


def is_valid_bio(tags: Sequence[str]) -> bool:
    """True when ``tags`` is already well formed (used by data validation)."""
    return list(tags) == repair_bio(tags) and all(_bare(t)[0] in ("B", "I", "O") for t in tags)


def bio_to_spans(tags: Sequence[str], default_type: str | None = None) -> list[TokenSpan]:
    """Token spans ``(start, end, type)`` of a BIO sequence (repaired first)."""
    spans: list[TokenSpan] = []
    start: int | None = None
    cur: str | None = None
    for i, tag in enumerate(repair_bio(tags)):
        prefix, label = _bare(tag)
        label = label or default_type or ""
        if prefix in ("B", "O") and start is not None:
            spans.append((start, i, cur or ""))
            start, cur = None, None
        if prefix == "B":
            start, cur = i, label
    if start is not None:
        spans.append((start, len(tags), cur or ""))
    return spans


def spans_to_bio(spans: Sequence[TokenSpan], length: int, typed: bool = False) -> list[str]:
    """BIO tags of ``length`` tokens for non-overlapping token spans (later spans win)."""
    tags = ["O"] * length
    for start, end, label in spans:
        for i in range(start, end):
            prefix = "B" if i == start else "I"
            tags[i] = f"{prefix}-{label}" if typed else prefix
    return tags


def token_offsets(tokens: Sequence[str], base: int = 0, sep: str = " ") -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token when tokens are joined with ``sep``."""
    offsets = []
    pos = base
    for tok in tokens:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + len(sep)
    return offsets


def posting_text(posting: Posting) -> str:
    """The posting's text: tokens joined by spaces, sentences by newlines."""
    return "\n".join(" ".join(s.tokens) for s in posting.sentences)


def raw_posting_text(posting: Posting) -> tuple[str, list[list[tuple[int, int]]]]:
    """The posting as people write it (``common.text.words.rejoin_tokens`` per sentence, one
    sentence a line) and, per sentence, its tokens' offsets in that text."""
    from common.text.words import rejoin_tokens

    lines, offsets, base = [], [], 0
    for s in posting.sentences:
        line, offs = rejoin_tokens(list(s.tokens), base)
        lines.append(line)
        offsets.append(offs)
        base += len(line) + 1
    return "\n".join(lines), offsets


def posting_token_offsets(posting: Posting) -> list[list[tuple[int, int]]]:
    """Per sentence, the character offsets of its tokens in ``posting_text(posting)``."""
    out = []
    base = 0
    for s in posting.sentences:
        out.append(token_offsets(s.tokens, base))
        base += len(" ".join(s.tokens)) + 1
    return out


def token_spans_to_char(spans: Sequence[TokenSpan], offsets: Sequence[tuple[int, int]]) -> list[CharSpan]:
    """Convert token spans to character spans using each token's offsets."""
    return [(offsets[s][0], offsets[e - 1][1], label) for s, e, label in spans]


def char_spans_to_tokens(spans: Sequence[CharSpan], offsets: Sequence[tuple[int, int]]) -> list[TokenSpan]:
    """Token spans covering character spans: every token that overlaps a span belongs to it.

    Spans that touch no token (e.g. only whitespace) are dropped.
    """
    out: list[TokenSpan] = []
    for cs, ce, label in spans:
        idx = [i for i, (ts, te) in enumerate(offsets) if ts < ce and te > cs]
        if idx:
            out.append((idx[0], idx[-1] + 1, label))
    return out


def gold_keywords(posting: Posting) -> list[Keyword]:
    """All gold Skill and Knowledge keywords of a posting, as character spans of its text."""
    text = posting_text(posting)
    kws: list[Keyword] = []
    for sent, offs in zip(posting.sentences, posting_token_offsets(posting)):
        for ktype in KEYWORD_TYPES:
            tags = sent.tags.get(ktype)
            if not tags:
                continue
            for cs, ce, _ in token_spans_to_char(bio_to_spans(tags, ktype), offs):
                kws.append(Keyword(start=cs, end=ce, text=text[cs:ce], type=ktype, score=1.0))
    return sorted(kws, key=lambda k: (k.start, k.end, k.type))


_WS = re.compile(r"\S+")


def _control_map() -> dict[int, str]:
    """C0 controls (but tab and newline) and DEL to a space; C1 controls to the Windows-1252
    character they stand for in mis-decoded text (``\\x92`` is ``’``), else a space."""
    table = {c: " " for c in [*range(0x20), 0x7F] if chr(c) not in "\t\n"}
    for c in range(0x80, 0xA0):
        try:
            table[c] = bytes([c]).decode("cp1252")
        except UnicodeDecodeError:
            table[c] = " "
    return table


_CONTROLS = _control_map()


def blank_control_chars(text: str) -> str:
    """Control characters normalised away, one character for one.

    Pasted and scraped text carries NULs, carriage returns and form feeds that are not
    whitespace to a tokenizer, so ``"Python\\x00"`` used to come back as a keyword: they become
    spaces. C1 controls are almost always Windows-1252 text decoded as Latin-1 (SkillSpan has
    412 tokens such as ``We\\x92re``): they become the character meant (``We’re``), which keeps
    the word whole. The string keeps its length, so offsets computed on the result point into
    the original text.
    """
    return text.translate(_CONTROLS)


def whitespace_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Split raw text into whitespace tokens with their character offsets.

    SkillSpan is whitespace-tokenised, so raw input is tokenised the same way before tagging.
    """
    toks, offs = [], []
    for m in _WS.finditer(text):
        toks.append(m.group())
        offs.append((m.start(), m.end()))
    return toks, offs


def normalise_keyword(text: str) -> str:
    """Lower-cased, whitespace-collapsed, edge-punctuation-stripped form used for keyword sets."""
    return " ".join(text.lower().split()).strip(" .,;:!?()[]{}\"'")
