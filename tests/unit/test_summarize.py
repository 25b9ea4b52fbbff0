"""Extractive summary: the sentences carrying most keywords, in document order."""

from __future__ import annotations

from common.topics.summarize import extractive_summary, split_sentences
from common.core.types import Keyword

TEXT = (
    "We are a friendly company in Berlin. "
    "You will build data pipelines in Python and SQL on AWS. "
    "Free coffee and fruit. "
    "Experience with Docker is a plus.\n"
    "Knowledge of Kubernetes, Terraform and Python is required."
)


def _kw(text: str, word: str, typ: str = "Knowledge") -> Keyword:
    start = text.index(word)
    return Keyword(start=start, end=start + len(word), text=word, type=typ)


def test_split_sentences_offsets_point_into_the_text():
    sents = split_sentences(TEXT)
    assert len(sents) == 5
    for s in sents:
        assert TEXT[s.start:s.end] == s.text
    assert sents[-1].text.startswith("Knowledge of Kubernetes")


def test_summary_picks_sentences_with_most_keywords_in_document_order():
    kws = [_kw(TEXT, w) for w in ("Python", "SQL", "AWS", "Docker", "Kubernetes", "Terraform")]
    kws.append(Keyword(start=TEXT.rindex("Python"), end=TEXT.rindex("Python") + 6, text="Python", type="Knowledge"))
    assert extractive_summary(TEXT, kws, max_sentences=2) == [
        "You will build data pipelines in Python and SQL on AWS.",
        "Knowledge of Kubernetes, Terraform and Python is required.",
    ]
    one = extractive_summary(TEXT, kws, max_sentences=1)
    assert one == ["You will build data pipelines in Python and SQL on AWS."]  # tie (3 vs 3): earlier wins


def test_summary_from_plain_words_and_fallback_to_lead():
    assert extractive_summary(TEXT, words=["docker"], max_sentences=3) == ["Experience with Docker is a plus."]
    assert extractive_summary(TEXT, words=["cobol"], max_sentences=2) == [
        "We are a friendly company in Berlin.", "You will build data pipelines in Python and SQL on AWS."]
    assert extractive_summary("", words=["x"]) == []
