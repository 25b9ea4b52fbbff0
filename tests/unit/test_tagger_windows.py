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


def test_pieces_from_one_tokenisation_of_the_text_equal_word_by_word_pieces(tiny_bert_dir):
    """``text_pieces`` (one tokenizer call per text) gives each word the ids ``word_pieces`` gives it
    alone, on real postings (SkillSpan dev, with punctuation, numbers, URLs and unknown characters)."""
    import pytest
    from transformers import AutoTokenizer

    from common.core.config import encoder_or_default
    from common.keywords.encoding import text_pieces, word_pieces
    from common.text.spans import blank_control_chars, posting_text
    from common.text.words import word_tokens

    try:
        from common.data.skillspan import load_skillspan

        texts = [posting_text(p) for p in load_skillspan("dev")]
    except FileNotFoundError as exc:
        pytest.skip(f"SkillSpan absent: {exc}")
    texts.append("C++/C#, .NET 4.5; naïve café 東京 — résumé 🙂 e-mail: a@b.io (50%) x\u00a0y")
    for path in (encoder_or_default(None), tiny_bert_dir):
        tok = AutoTokenizer.from_pretrained(path)
        n = 0
        for text in texts:
            text = blank_control_chars(text)
            words, offsets = word_tokens(text)
            got = text_pieces(tok, text, offsets)
            assert got is not None and got == word_pieces(tok, words)
            n += len(words)
        assert n > 10_000
