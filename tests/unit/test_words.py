"""The one word splitter (``common.text.words``): punctuation off, names whole, offsets exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.text.words import is_punctuation, rejoin_tokens, split_words, word_tokens


@pytest.mark.parametrize("text,words", [
    ("We need Python, SQL and AWS (EC2).", ["We", "need", "Python", ",", "SQL", "and", "AWS", "(", "EC2", ")", "."]),
    ("C++, C#, .NET and Node.js; CI/CD 24/7!", ["C++", ",", "C#", ",", ".NET", "and", "Node.js", ";", "CI/CD", "24/7", "!"]),
    ("Mail jobs@acme.com or see https://acme.com/jobs?id=3.",
     ["Mail", "jobs@acme.com", "or", "see", "https://acme.com/jobs?id=3", "."]),
    ("(www.acme.io/careers)", ["(", "www.acme.io/careers", ")"]),
    ("the company's culture, 50% remote, $100k", ["the", "company", "'s", "culture", ",", "50", "%", "remote", ",",
                                                 "$", "100k"]),
    ("Python,SQL and 1,000 users", ["Python", ",", "SQL", "and", "1,000", "users"]),
    ("[Docker] \"agile\" 3+ years, e-mail: yes?", ["[", "Docker", "]", '"', "agile", '"', "3+", "years", ",", "e-mail",
                                                   ":", "yes", "?"]),
    ("stakeholders.\nbuild ETL pipelines on", ["stakeholders", ".", "build", "ETL", "pipelines", "on"]),
    ("", []),
])
def test_splits_like_skillspan(text, words):
    got, offsets = word_tokens(text)
    assert got == words
    assert [text[s:e] for s, e in offsets] == got


def test_punctuation_words():
    assert all(is_punctuation(w) for w in [",", ".", ")", "(", "...", "-", "•", "'s"[0]])
    assert not any(is_punctuation(w) for w in ["C++", "C#", "+", "#", ".NET", "Python", "'s"])


def test_rejoin_is_what_the_splitter_undoes():
    tokens = ["We", "need", "Python", ",", "SQL", "(", "AWS", ")", "and", "$", "100k", "for", "the", "team", "'s",
              "goals", "."]
    text, offsets = rejoin_tokens(tokens)
    assert text == "We need Python, SQL (AWS) and $100k for the team's goals."
    assert [text[s:e] for s, e in offsets] == tokens
    assert [text[s:e] for s, e in split_words(text)] == tokens


@given(st.text(alphabet=st.sampled_from(list("ab C+#.,;:!?()[]$%'/@-\n")), max_size=40))
@settings(max_examples=300, deadline=None)
def test_words_are_ordered_disjoint_and_cover_every_non_space(text):
    offsets = split_words(text)
    assert all(s < e for s, e in offsets)
    assert all(a[1] <= b[0] for a, b in zip(offsets, offsets[1:]))
    covered = {i for s, e in offsets for i in range(s, e)}
    assert covered == {i for i, c in enumerate(text) if not c.isspace()}


@pytest.mark.parametrize("text,kept", [
    ("Python", "Python"), ("and specifications for", "specifications"), ("with SQL", "SQL"),
    ("effectively", ""), ("deal", ""), ("use", ""), ("and the", ""), ("Use of", ""),
    ("the ability to use Python", "ability to use Python"), ("writing", "writing"), ("team work", "team work"),
    ("supply", "supply"), ("fly", "fly"), ("assembly", "assembly"), ("quickly", ""), ("independently", ""),
])
def test_span_hygiene_trims_function_words_and_drops_what_names_no_skill(text, kept):
    from common.text.words import tidy_span

    words, _ = word_tokens(text)
    s, e = tidy_span(words, 0, len(words))
    assert " ".join(words[s:e]) == kept


def test_span_hygiene_in_decoding_keeps_python_and_drops_effectively():
    """Minimum functionality on the decoder: a span the model marks as ``Python ,`` is Python; a
    span it marks as ``effectively`` or ``and specifications for`` is dropped or trimmed."""
    import numpy as np

    from common.keywords.decoding import keywords_from_labels
    from common.keywords.encoding import Doc

    text = "Python, effectively and specifications for"
    words, offsets = word_tokens(text)
    doc = Doc(words=words, offsets=offsets, lines=[0] * len(words), pieces=[[1]] * len(words))
    # B I | B | B I I  on the Skill layer (O=0, B=1, I=2); nothing on Knowledge
    lab = np.zeros((len(words), 2), dtype=np.int64)
    lab[:, 0] = [1, 2, 1, 1, 2, 2]
    kws = keywords_from_labels(text, doc, lab, np.ones((len(words), 2)))
    assert [k.text for k in kws] == ["Python", "specifications"]
