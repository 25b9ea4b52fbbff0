"""Window planning: every word owned exactly once, windows fit, lines packed whole when they fit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from common.keywords.windows import line_ids, plan_windows


@st.composite
def plans(draw):
    n = draw(st.integers(1, 120))
    lens = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    breaks = sorted(draw(st.sets(st.integers(1, n - 1), max_size=10))) if n > 1 else []
    lines, cur = [], 0
    for i in range(n):
        if cur < len(breaks) and i == breaks[cur]:
            cur += 1
        lines.append(cur)
    max_pieces = draw(st.integers(6, 40))
    stride = draw(st.integers(0, max_pieces - 1))
    return lens, lines, max_pieces, stride


@given(plans())
def test_every_word_owned_once_and_windows_fit(plan):
    lens, lines, max_pieces, stride = plan
    windows = plan_windows(lens, lines, max_pieces, stride)
    owned = [i for w in windows for i in range(w.own_start, w.own_end)]
    assert owned == list(range(len(lens)))
    for w in windows:
        assert w.start <= w.own_start < w.own_end <= w.end
        assert sum(lens[w.start : w.end]) <= max_pieces or w.end - w.start == 1
    # a line that fits in a window is never split across windows
    for line in set(lines):
        idx = [i for i, x in enumerate(lines) if x == line]
        if sum(lens[i] for i in idx) <= max_pieces:
            assert any(w.start <= idx[0] and idx[-1] < w.end for w in windows)


def test_long_line_is_strided_with_context():
    lens = [1] * 50
    windows = plan_windows(lens, [0] * 50, max_pieces=10, stride=4)
    assert len(windows) > 5
    assert windows[0].start == 0 and windows[-1].end == 50
    # consecutive windows overlap by the stride and split ownership inside the overlap
    for a, b in zip(windows, windows[1:]):
        assert a.end - b.start == 4
        assert a.own_end == b.own_start
        assert b.start <= a.own_end <= a.end


def test_line_ids_follow_newlines():
    text = "a b\nc\n\nd"
    offsets = [(0, 1), (2, 3), (4, 5), (7, 8)]
    assert line_ids(text, offsets) == [0, 0, 1, 3]
