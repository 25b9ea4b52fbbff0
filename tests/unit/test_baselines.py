"""Unsupervised baselines: candidate phrases, type lexicon, offsets over the original text."""

from __future__ import annotations

import pytest

from common.keywords.baselines import TypeLexicon, candidates, make_baseline
from common.keywords.evaluate import evaluate_keywords
from common.text.spans import posting_text
from common.core.types import Posting, Sentence


def _postings() -> list[Posting]:
    rows = [
        ("We want Python and SQL skills <ORGANIZATION>", "O O B O B O O", "O O O O O O O"),
        ("You will manage projects with Python", "O O O O O B", "O O B I O O"),
        ("Strong SQL and cloud experience", "O B O B O", "O O O O O"),
        ("Communicate with the data team", "O O O O O", "B O O O O"),
    ]
    out = []
    for i, (text, know, skill) in enumerate(rows * 3):
        out.append(Posting(doc_id=str(i), source="tech", sentences=[
            Sentence(tokens=text.split(), tags={"Knowledge": know.split(), "Skill": skill.split()})]))
    return out


def test_candidates_skip_stop_words_placeholders_and_line_breaks():
    text = "We use Python.\nData pipelines at <ORGANIZATION> and the cloud"
    cands = candidates(text, max_n=2)
    assert "python" in cands and "data pipelines" in cands and "cloud" in cands
    assert "python data" not in cands  # would cross the line break
    assert not any("organization" in c for c in cands)
    assert not any(c.split()[0] in {"the", "and", "we"} or c.split()[-1] in {"the", "and", "at"} for c in cands)
    for s, e in cands["python"]:
        assert text[s:e] == "Python"  # the word splitter leaves the full stop out (it was "Python.")


def test_type_lexicon_majority_and_default():
    lex = TypeLexicon(_postings())
    assert lex.type_of("python") == "Knowledge"
    assert lex.type_of("manage projects") == "Skill"
    assert lex.type_of("never seen") == lex.default == "Knowledge"


@pytest.mark.parametrize("name", ["tfidf", "yake"])
def test_baselines_return_keywords_over_the_original_text(name):
    train = _postings()
    model = make_baseline(name).fit(train, tune_postings=6)
    assert model.rate is not None
    texts = [posting_text(p) for p in train[:4]]
    preds = model.extract(texts)
    assert any(preds)
    for text, kws in zip(texts, preds):
        for k in kws:
            assert text[k.start : k.end] == k.text and k.type in ("Skill", "Knowledge")
        spans = sorted((k.start, k.end) for k in kws)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never overlapping
    rep = evaluate_keywords(train[:4], preds)
    assert 0.0 <= rep["span"]["overall"]["f1"] <= 1.0


def test_tfidf_prefers_phrases_that_are_rare_in_training():
    train = _postings()
    model = make_baseline("tfidf", rate=0.2).fit(train)
    kws = model.extract(["Python Python kubernetes and SQL"])[0]
    assert kws and kws[0].text.lower() in {"kubernetes", "python python", "python"}
    ranked = dict(model.rank("Python kubernetes", candidates("Python kubernetes")))
    assert ranked["kubernetes"] > ranked["python"]  # unseen in training: higher IDF


def test_keybert_style_with_a_plain_hf_encoder(tiny_bert_dir):
    model = make_baseline("keybert", encoder=str(tiny_bert_dir), rate=0.3).fit(_postings()[:4])
    text = "Python and SQL for the data team"
    kws = model.extract([text])[0]
    assert kws and all(text[k.start : k.end] == k.text for k in kws)
    with pytest.raises(ValueError):
        make_baseline("bm25")
