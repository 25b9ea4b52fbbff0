"""The keyword evaluator against numbers computed by hand (strict span P/R/F1 and keyword sets)."""

from __future__ import annotations

import json

import pytest

from common.keywords.evaluate import evaluate_keywords, predicted_sequences, save_report
from common.text.spans import gold_keywords, posting_text
from common.core.types import Keyword, Posting, Sentence


def _kw(text: str, phrase: str, ktype: str, occurrence: int = 0) -> Keyword:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(phrase, start + 1)
    return Keyword(start=start, end=start + len(phrase), text=phrase, type=ktype)


@pytest.fixture()
def postings() -> list[Posting]:
    tech = Posting(doc_id="t", source="tech", sentences=[
        Sentence(tokens="Strong communication skills and Python experience".split(),
                 tags={"Skill": ["O", "B", "I", "O", "O", "O"], "Knowledge": ["O", "O", "O", "O", "B", "O"]}),
        # the Skill and the Knowledge span overlap, as they may in SkillSpan
        Sentence(tokens="Manage cloud infrastructure projects".split(),
                 tags={"Skill": ["B", "I", "I", "I"], "Knowledge": ["O", "B", "I", "O"]}),
    ])
    house = Posting(doc_id="h", source="house", sentences=[
        Sentence(tokens=["Java", "developer"], tags={"Skill": ["O", "O"], "Knowledge": ["B", "O"]}),
    ])
    return [tech, house]


def test_span_and_document_scores_match_hand_computation(postings):
    text = posting_text(postings[0])
    preds = [[
        _kw(text, "communication skills", "Skill"),   # exact: TP
        _kw(text, "Manage cloud", "Skill"),            # boundary wrong: FP (and the gold span is a FN)
        _kw(text, "Python", "Knowledge"),              # exact: TP
        _kw(text, "cloud infrastructure", "Knowledge"),  # exact, overlapping a Skill span: TP
        _kw(text, "experience", "Knowledge"),          # FP
    ], []]
    rep = evaluate_keywords(postings, preds)
    # Skill: gold 2, predicted 2, correct 1
    assert rep["span"]["Skill"]["precision"] == pytest.approx(1 / 2)
    assert rep["span"]["Skill"]["recall"] == pytest.approx(1 / 2)
    assert rep["span"]["Skill"]["f1"] == pytest.approx(1 / 2)
    # Knowledge: gold 3 (Python, cloud infrastructure, Java), predicted 3, correct 2
    assert rep["span"]["Knowledge"]["precision"] == pytest.approx(2 / 3)
    assert rep["span"]["Knowledge"]["recall"] == pytest.approx(2 / 3)
    assert (rep["span"]["Knowledge"]["gold"], rep["span"]["Knowledge"]["predicted"]) == (3, 3)
    # overall = micro over both layers: 3 correct of 5 predicted and 5 gold
    assert rep["span"]["overall"]["precision"] == pytest.approx(3 / 5)
    assert rep["span"]["overall"]["recall"] == pytest.approx(3 / 5)
    assert rep["span"]["overall"]["f1"] == pytest.approx(3 / 5)
    # per source: tech has 3 correct of 5 predicted, 4 gold; house nothing predicted
    tech = rep["by_source"]["tech"]["span"]["overall"]
    assert (tech["precision"], tech["recall"]) == pytest.approx((3 / 5, 3 / 4))
    assert tech["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert rep["by_source"]["house"]["span"]["overall"]["f1"] == 0.0
    # documents: tech gold {communication skills, python, manage cloud infrastructure projects,
    # cloud infrastructure}, predicted 5 strings of which 3 are gold; house gold {java}, none predicted
    assert rep["doc"]["precision"] == pytest.approx(3 / 5)
    assert rep["doc"]["recall"] == pytest.approx(3 / 5)
    assert rep["doc"]["macro_f1"] == pytest.approx((2 * 0.6 * 0.75 / 1.35 + 0.0) / 2)
    assert rep["postings"] == 2


def test_gold_predictions_score_one_and_nothing_scores_zero(postings):
    perfect = evaluate_keywords(postings, [gold_keywords(p) for p in postings])
    assert perfect["span"]["overall"]["f1"] == 1.0 and perfect["doc"]["f1"] == 1.0
    empty = evaluate_keywords(postings, [[], []])
    assert empty["span"]["overall"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 5, "predicted": 0}
    with pytest.raises(ValueError):
        evaluate_keywords(postings, [[]])


def test_character_spans_snap_to_tokens_and_stop_at_sentence_end(postings):
    text = posting_text(postings[0])
    start = text.index("Pyth")
    partial = Keyword(start=start, end=start + 4, text="Pyth", type="Knowledge")
    across = _kw(text, "experience\nManage", "Skill")
    seqs = predicted_sequences(postings[0], [partial, across])
    assert seqs["Knowledge"][0] == ["O", "O", "O", "O", "B", "O"]
    assert seqs["Skill"] == [["O", "O", "O", "O", "O", "B"], ["O", "O", "O", "O"]]


def test_save_report_writes_json_and_png(postings, tmp_path):
    rep = evaluate_keywords(postings, [gold_keywords(p) for p in postings])
    history = [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}, {"step": 2, "dev_span_f1": 0.4}]
    json_path, png_path = save_report(rep, tmp_path, history=history)
    data = json.loads(json_path.read_text())
    assert data["span"]["overall"]["f1"] == 1.0 and data["history"] == history
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_agrees_with_seqeval_classification_report(postings):
    """The fast path (seqeval Entities once per side) equals seqeval's own strict report."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    text = posting_text(postings[0])
    preds = [[_kw(text, "skills and Python", "Skill"), _kw(text, "Python", "Knowledge"),
              _kw(text, "cloud", "Knowledge"), _kw(text, "Manage cloud infrastructure projects", "Skill")],
             [_kw("Java developer", "Java developer", "Knowledge")]]
    rep = evaluate_keywords(postings, preds)
    y_true, y_pred = [], []
    for t in ("Skill", "Knowledge"):
        for p, kws in zip(postings, preds):
            seqs = predicted_sequences(p, kws)[t]
            for s, ps in zip(p.sentences, seqs):
                y_true.append([x if x == "O" else f"{x}-{t}" for x in s.tags[t]])
                y_pred.append([x if x == "O" else f"{x}-{t}" for x in ps])
    ref = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    for t in ("Skill", "Knowledge"):
        assert rep["span"][t]["f1"] == pytest.approx(ref[t]["f1-score"])
    assert rep["span"]["overall"]["precision"] == pytest.approx(ref["micro avg"]["precision"])
    assert rep["span"]["overall"]["f1"] == pytest.approx(ref["micro avg"]["f1-score"])
