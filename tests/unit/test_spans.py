"""Spans, BIO tags and character offsets: round trips (property tests) and BIO repair."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from common.text.spans import (
    bio_to_spans,
    blank_control_chars,
    char_spans_to_tokens,
    gold_keywords,
    is_valid_bio,
    posting_text,
    posting_token_offsets,
    repair_bio,
    spans_to_bio,
    token_spans_to_char,
    whitespace_tokens,
)
from common.core.types import Posting, Sentence

TOKEN = st.text(alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=8)
TOKEN = TOKEN.filter(lambda t: not any(c.isspace() for c in t))


@st.composite
def tokens_and_spans(draw):
    """Tokens plus non-overlapping token spans over them."""
    tokens = draw(st.lists(TOKEN, min_size=1, max_size=25))
    cuts = sorted(draw(st.sets(st.integers(0, len(tokens)), max_size=12)))
    spans = []
    for a, b in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((a, b, draw(st.sampled_from(["Skill", "Knowledge"]))))
    return tokens, spans


@given(tokens_and_spans())
def test_spans_bio_round_trip(data):
    tokens, spans = data
    tags = spans_to_bio(spans, len(tokens), typed=True)
    assert is_valid_bio(tags)
    assert bio_to_spans(tags) == spans


@given(tokens_and_spans())
def test_token_char_round_trip(data):
    tokens, spans = data
    text = " ".join(tokens)
    words, offsets = whitespace_tokens(text)
    assert words == tokens
    char_spans = token_spans_to_char(spans, offsets)
    for (cs, ce, _), (ts, te, _) in zip(char_spans, spans):
        assert text[cs:ce] == " ".join(tokens[ts:te])
    assert char_spans_to_tokens(char_spans, offsets) == spans


@settings(max_examples=50)
@given(st.lists(tokens_and_spans(), min_size=1, max_size=5))
def test_posting_gold_keywords_point_into_text(sentences):
    """Every gold keyword's offsets cut exactly its tokens out of the rebuilt posting text."""
    sents = [Sentence(tokens=t, tags={"Skill": spans_to_bio([s for s in sp if s[2] == "Skill"], len(t)),
                                      "Knowledge": spans_to_bio([s for s in sp if s[2] == "Knowledge"], len(t))})
             for t, sp in sentences]
    posting = Posting(doc_id="d", source="tech", sentences=sents)
    text = posting_text(posting)
    kws = gold_keywords(posting)
    expected = sorted(
        " ".join(t[a:b]) for t, sp in sentences for a, b, _ in sp
    )
    assert sorted(k.text for k in kws) == expected
    for k in kws:
        assert text[k.start : k.end] == k.text
    offs = posting_token_offsets(posting)
    assert [text[s:e] for sent in offs for s, e in sent] == [tok for t, _ in sentences for tok in t]


def test_repair_bio_ill_formed_sequences():
    # an I that starts a span becomes B; an I after another type starts a new span
    assert repair_bio(["I", "I", "O", "I"]) == ["B", "I", "O", "B"]
    assert repair_bio(["O", "I-Skill", "I-Knowledge", "B-Skill", "I-Skill"]) == [
        "O", "B-Skill", "B-Knowledge", "B-Skill", "I-Skill"]
    assert repair_bio(["X", "B", "I"]) == ["O", "B", "I"]
    assert not is_valid_bio(["O", "I"])
    assert is_valid_bio(["B", "I", "O", "B"])
    # repaired sequences decode to the spans seqeval would read
    assert bio_to_spans(["I", "I", "O", "B", "I"], "Skill") == [(0, 2, "Skill"), (3, 5, "Skill")]


@given(st.lists(st.sampled_from(["O", "B", "I", "B-Skill", "I-Skill", "I-Knowledge", "Z"]), max_size=30))
def test_repair_bio_always_valid_and_idempotent(tags):
    fixed = repair_bio(tags)
    assert len(fixed) == len(tags)
    assert is_valid_bio(fixed)
    assert repair_bio(fixed) == fixed
    # repair never drops a tagged token (only unknown prefixes become O)
    assert [t == "O" for t in fixed] == [t == "O" or t == "Z" for t in tags]


def test_whitespace_tokens_keep_original_offsets():
    text = "  Python,\tSQL\n\nteam-work  "
    words, offs = whitespace_tokens(text)
    assert words == ["Python,", "SQL", "team-work"]
    assert [text[s:e] for s, e in offs] == words


def test_control_characters_are_blanked_one_for_one():
    text = "Python\x00, SQL\r\nand\x0cGo\tRust\x7f\x81end We\x92re"
    clean = blank_control_chars(text)
    assert len(clean) == len(text)
    # C0 and DEL become spaces; C1 controls are mis-decoded Windows-1252 (\x92 is an apostrophe)
    assert clean == "Python , SQL \nand Go\tRust  end We’re"
    words, offsets = whitespace_tokens(clean)
    assert words == ["Python", ",", "SQL", "and", "Go", "Rust", "end", "We’re"]
    # offsets index the original string: the same words, the apostrophe as it was sent
    assert [text[s:e] for s, e in offsets] == words[:-1] + ["We\x92re"]


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_blanking_keeps_length_newlines_and_tabs(text):
    clean = blank_control_chars(text)
    assert len(clean) == len(text)
    assert [i for i, c in enumerate(text) if c in "\n\t"] == [i for i, c in enumerate(clean) if c in "\n\t"]
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in clean)
