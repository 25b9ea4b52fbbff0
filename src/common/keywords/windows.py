"""Turning a whitespace-tokenised text into encoder windows, and window outputs back into words.

The tagger works on words (whitespace tokens, as in SkillSpan) but the encoder sees sub-word
pieces in windows of at most ``max_length`` pieces. This module is the pure-Python half of that:

* every word is labelled through its first sub-word piece (the usual NER alignment);
* consecutive lines (sentences) are packed whole into one window while they fit, so a window
  sees neighbouring sentences as context and no sentence is cut needlessly;
* a line longer than a window is covered by overlapping (striding) windows; each word is
  *owned* by exactly one window - the one in which it is furthest from the cut - so nothing is
  truncated and nothing is predicted twice.

Kept free of torch so that it can be property-tested quickly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

MAX_PIECES_PER_WORD = 12  # a 300-character URL must not eat a whole window


@dataclass(frozen=True)
class Window:
    """Words ``[start, end)`` go into one encoder window; the window's predictions are kept for
    words ``[own_start, own_end)`` only (the rest is context shared with a neighbour)."""

    start: int
    end: int
    own_start: int
    own_end: int


def line_ids(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """Line number of every word (words never span lines, as they are whitespace tokens)."""
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    return [bisect.bisect_right(newlines, s) for s, _ in offsets]


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of equal consecutive ids."""
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or ids[i] != ids[start]:
            runs.append((start, i))
            start = i
    return runs


def _stride(lens: list[int], start: int, end: int, max_pieces: int, stride: int) -> list[Window]:
    """Overlapping windows over words ``[start, end)`` that together own every word once."""
    spans: list[tuple[int, int]] = []
    s = start
    while True:
        e, total = s, 0
        while e < end and total + lens[e] <= max_pieces:
            total += lens[e]
            e += 1
        e = max(e, s + 1)  # a single over-long word still gets a window (its pieces are capped)
        spans.append((s, e))
        if e >= end:
            break
        ns, overlap = e, 0
        while ns - 1 > s and overlap + lens[ns - 1] <= stride:
            ns -= 1
            overlap += lens[ns]
        s = ns
    windows: list[Window] = []
    for k, (s, e) in enumerate(spans):
        own_s = start if k == 0 else (spans[k - 1][1] + s) // 2
        own_e = end if k == len(spans) - 1 else (e + spans[k + 1][0]) // 2
        if own_e > own_s:  # with a large stride a window can be all context: skip it
            windows.append(Window(s, e, own_s, own_e))
    return windows


def plan_windows(piece_lens: list[int], lines: list[int], max_pieces: int, stride: int) -> list[Window]:
    """Windows covering all words: whole lines packed together, over-long lines strided.

    ``piece_lens[i]`` is the number of sub-word pieces of word ``i`` (already capped),
    ``lines[i]`` its line number, ``max_pieces`` the room in a window (``max_length`` minus the
    two special tokens) and ``stride`` how many pieces of context consecutive windows share.
    """
    if max_pieces < 1:
        raise ValueError("max_length leaves no room for words")
    if not 0 <= stride < max_pieces:
        raise ValueError(f"stride must be between 0 and {max_pieces - 1}, got {stride}")
    windows: list[Window] = []
    cur_s = cur_e = 0
    cur_len = 0

    def flush() -> None:
        nonlocal cur_s, cur_e, cur_len
        if cur_e > cur_s:
            windows.append(Window(cur_s, cur_e, cur_s, cur_e))
        cur_len = 0

    for s, e in _runs(lines):
        n = sum(piece_lens[s:e])
        if n > max_pieces:
            flush()
            windows.extend(_stride(piece_lens, s, e, max_pieces, stride))
            cur_s = cur_e = e
            continue
        if cur_len + n > max_pieces:
            flush()
            cur_s = s
        if cur_len == 0:
            cur_s = s
        cur_e = e
        cur_len += n
    flush()
    return windows
