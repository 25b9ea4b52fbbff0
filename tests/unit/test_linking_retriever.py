"""The sentence retriever (``common.linking.retriever``): distant pairs from gold spans and tagged
duty sentences, training on them, and a linker that encodes sentences with it, saved and loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.core.types import Keyword, Posting, Sentence
from common.linking.linker import ESCOLinker, LinkerConfig, build_linker
from common.linking.retriever import RetrieverConfig, confident_pairs, duty_sentences, skillspan_items
from common.linking.skills import BY_ENCODER, SkillRankConfig, rank_sentences, reported, sentence_evidence
from common.linking.taxonomy import taxonomy_frame

SKILLS = [("u:py", "Python (computer programming)", ["Python"]), ("u:sql", "SQL", ["Structured Query Language"]),
          ("u:java", "Java (computer programming)", ["Java"]), ("u:comm", "communication", ["communicating"])]


@pytest.fixture(scope="module")
def taxonomy():
    return taxonomy_frame([{"uri": u, "label": lab, "alt_labels": alts, "groups_l1": [], "groups_l2": []}
                           for u, lab, alts in SKILLS])


@pytest.fixture(scope="module")
def validation(make_annotations):
    return make_annotations([
        ("We write Python daily.", "Python", "", "Python (computer programming)"),
        ("SQL is a must.", "SQL", "", "SQL"),
        ("Kubernetes is a plus.", "kubernetes", "", "LABEL NOT PRESENT"),
        ("Zxq qqz.", "zxq qqz", "", "LABEL NOT PRESENT"),
    ])


@pytest.fixture(scope="module")
def plain_linker(tiny_bert_dir, taxonomy, validation):
    return build_linker(LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None), taxonomy,
                        validation=validation, progress=False, use_cache=False)


def test_skillspan_items_pair_each_gold_span_with_its_sentence():
    post = Posting("d", "tech", [Sentence(["Strong", "Python", "and", "SQL", "skills"],
                                          {"Skill": ["O", "O", "O", "O", "O"], "Knowledge": ["O", "B", "O", "B", "O"]}),
                                 Sentence(["Lead", "a", "team"], {"Skill": ["B", "I", "I"], "Knowledge": ["O", "O", "O"]})])
    assert skillspan_items([post]) == [("Strong Python and SQL skills", "Python"), ("Strong Python and SQL skills", "SQL"),
                                       ("Lead a team", "Lead a team")]


def test_duty_sentences_are_the_onet_statements_only(tmp_path):
    path = tmp_path / "postings.jsonl"
    rows = [{"id": f"o{i}", "source": "onet-18.1-task-statements", "text": f"Operate  machine number {i}."}
            for i in range(5)]
    rows += [{"id": "dup", "source": "onet-18.1-task-statements", "text": "Operate machine number 0."},
             {"id": "la", "source": "los-angeles-city-bulletins", "text": "A whole bulletin."}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    got = duty_sentences(path, 10, seed=1)
    assert sorted(got) == [f"Operate machine number {i}." for i in range(5)]  # folded, deduplicated, no bulletin
    assert duty_sentences(path, 2, seed=1) == got[:2] and duty_sentences(path, 0, seed=1) == []
    assert duty_sentences(tmp_path / "absent.jsonl", 5, seed=1) == []


def test_only_confident_links_make_pairs(plain_linker):
    lk = plain_linker
    items = [("We write Python daily.", "Python"), ("Our SQL is fast.", "SQL"), ("Zxq qqz all day.", "zxq qqz")]
    links = {r.skill: r.matches[0] for r in lk.link([p for _, p in items])}
    pairs = confident_pairs(lk, items, margin=0.0)
    expected = [(s, links[p].label) for s, p in items if links[p].score >= lk.threshold]
    assert pairs == expected and ("We write Python daily.", "Python (computer programming)") in pairs
    assert len(confident_pairs(lk, items, margin=10.0)) == 0


def test_unset_sentence_weights_follow_the_sentence_encoder(plain_linker):
    """A linker without a retriever (``--no-retriever``) ranks with plain MiniLM's weights, not the
    retriever's; a weight the config sets is kept either way."""
    assert SkillRankConfig().for_encoder(True).sentence_weight == BY_ENCODER[True]["sentence_weight"]
    assert SkillRankConfig().for_encoder(False).model_dump() == {
        **SkillRankConfig().model_dump(), **BY_ENCODER[False]}
    assert SkillRankConfig(sentence_weight=0.9).for_encoder(False).sentence_weight == 0.9
    sentences = ["We write Python daily.", "Good communication matters."]
    kw = [[Keyword(start=9, end=15, text="Python", type="Knowledge")], []]
    ranking = rank_sentences(plain_linker, sentences, kw, SkillRankConfig())
    span = np.zeros_like(ranking.sentence)
    span[0] = plain_linker.scores(["Python"])[0]
    w = BY_ENCODER[False]["sentence_weight"]
    np.testing.assert_allclose(ranking.score, (1 - w) * span + w * ranking.sentence, atol=1e-5)
    assert ranking.implied_threshold == BY_ENCODER[False]["implied_threshold"]
    top = int(np.argmax(ranking.sentence[1]))
    assert top in reported(ranking, 1, SkillRankConfig(), implied_threshold=-1.0)[1]  # an override still wins
    assert reported(ranking, 1, SkillRankConfig(), implied_threshold=2.0)[1] == []


def test_a_trained_retriever_encodes_the_sentences_and_travels_with_the_linker(
        tiny_bert_dir, taxonomy, validation, shared_data, tmp_path, monkeypatch):
    """Trained on real SkillSpan train pairs (a few steps of the tiny BERT): the linker's sentence
    evidence comes from the retriever's space, span links from its own, and both survive save/load."""
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))  # no keyword model here: SkillSpan pairs only
    from common.core.settings import get_settings

    get_settings.cache_clear()
    try:
        cfg = LinkerConfig(encoder=str(tiny_bert_dir), threads=1,
                           retriever=RetrieverConfig(max_steps=3, batch_size=4, duty_sentences=0, margin=0.0))
        lk = build_linker(cfg, taxonomy, out_dir=tmp_path / "linker", validation=validation, progress=False,
                          use_cache=False)
    finally:
        get_settings.cache_clear()
    info = lk.metrics["retriever"]
    assert info["skillspan_pairs"] > 0 and info["steps"] == 3 and "duty_pairs" not in info
    short, text = lk.sentence_index()
    assert short.shape == lk.short_emb.shape and text.shape == lk.text_emb.shape
    assert not np.allclose(short, lk.short_emb, atol=1e-4)  # the retriever moved away from the base encoder
    sentences = ["We write Python daily.", "Good communication matters."]
    rank = SkillRankConfig(text_weight=0.5, gate=False)  # the retriever's own evidence, before the sentence gate
    E = lk.sentence_encoder().encode(sentences)
    want = 0.5 * (E @ text.T) + 0.5 * np.stack([(E @ short[lk.short_owner == j].T).max(axis=1)
                                                for j in range(len(lk.uris))], axis=1)
    np.testing.assert_allclose(sentence_evidence(lk, sentences, rank), want, atol=1e-5)
    loaded = ESCOLinker.load(tmp_path / "linker")
    assert loaded.retriever is not None and (tmp_path / "linker" / "retriever" / "config.json").exists()
    # the sentence gate is fitted on the retriever's vectors of real SkillSpan sentences and travels too
    assert lk.metrics["sentence_gate"]["train_sentences"] == 4800 and loaded.sentence_gate is not None
    np.testing.assert_allclose(loaded.sentence_gate.coef, lk.sentence_gate.coef, atol=1e-5)
    np.testing.assert_allclose(sentence_evidence(loaded, sentences, rank), want, atol=2e-3)  # float16 index
    for a, b in zip(loaded.link(["Python", "SQL"]), lk.link(["Python", "SQL"]), strict=True):  # the span side as built
        assert a.matches[0].uri == b.matches[0].uri and a.matches[0].score == pytest.approx(b.matches[0].score, abs=2e-3)
