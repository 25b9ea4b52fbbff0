"""Crowd merging: the span method and group Dawid-Skene beat majority vote on simulated crowds."""

from __future__ import annotations

import pandas as pd
import pytest

from common.labels.config import MergeConfig
from common.labels.spans import SpanCrowd, gold_span_frame, span_majority_vote, span_prf, token_majority_vote
from common.labels.quality import annotator_quality, merged_postings, span_agreement
from common.labels.feedback import feedback_to_crowd
from common.labels.groups import group_accuracy, merge_groups, one_coin_dawid_skene
from common.labels.span_merge import merge_spans
from common.testing.crowd_sim import CrowdSimConfig, simulate_group_crowd, simulate_span_crowd
from common.data.sample import SAMPLE_DIR
from common.testing.sample_build import SKILLS
from common.data.skillspan import load_skillspan
from common.text.spans import bio_to_spans, posting_text


@pytest.fixture(scope="module")
def sample_postings():
    return load_skillspan("train", SAMPLE_DIR) + load_skillspan("dev", SAMPLE_DIR)


def _crowd(rows, docs):
    return SpanCrowd(
        spans=pd.DataFrame(rows, columns=["doc_id", "sent", "type", "start", "end", "annotator"]),
        assignments=pd.DataFrame(docs, columns=["doc_id", "annotator"]),
    )


def test_majority_vote_and_boundary_voting_small_case():
    # gold (2,4); a and b each shift one edge, c is exact: exact-span MV finds nothing,
    # separate start/end voting recovers the span nobody but c marked.
    docs = [("d", a) for a in "abc"]
    crowd = _crowd(
        [("d", 0, "Skill", 1, 4, "a"), ("d", 0, "Skill", 2, 5, "b"), ("d", 0, "Skill", 2, 4, "c")], docs
    )
    assert span_majority_vote(crowd).empty
    merged = merge_spans(crowd, MergeConfig(rounds=2)).spans
    assert list(zip(merged.start, merged.end)) == [(2, 4)]


def test_span_merge_beats_majority_and_best_annotator(sample_postings):
    posts = sample_postings * 3  # more documents for EM; ids repeat, so rename them
    posts = [
        type(p)(doc_id=f"{p.doc_id}-{i}", source=p.source, sentences=p.sentences, split=p.split)
        for i, p in enumerate(posts)
    ]
    gold = gold_span_frame(posts)
    crowd = simulate_span_crowd(posts, CrowdSimConfig(per_doc=5, seed=3))
    merged = merge_spans(crowd)
    f1 = span_prf(merged.spans, gold)["f1"]
    mv = span_prf(span_majority_vote(crowd), gold)["f1"]
    tmv = span_prf(token_majority_vote(crowd), gold)["f1"]
    best = annotator_quality(crowd, gold)["f1"].max()
    assert f1 > mv + 0.05 and f1 > tmv + 0.05 and f1 > best, (f1, mv, tmv, best)
    q = merged.annotators.set_index("annotator")
    assert q.loc[["ann_spam1", "ann_spam2"], "spammer"].all()
    assert not q.loc[["ann_careful1", "ann_careful2"], "spammer"].any()
    assert q.loc["ann_careful1", "boundary_acc"] > q.loc["ann_avg3", "boundary_acc"]
    agr = merged.agreement
    assert 0 < agr["pairwise_strict_f1"] < agr["pairwise_overlap_f1"] <= 1


def test_gold_questions_help_or_keep(sample_postings):
    posts = sample_postings
    gold = gold_span_frame(posts)
    crowd = simulate_span_crowd(posts, CrowdSimConfig(per_doc=4, seed=5))
    qdocs = [p.doc_id for p in posts[:4]]
    rest = [p.doc_id for p in posts[4:]]
    plain = span_prf(merge_spans(crowd).spans, gold, rest)["f1"]
    with_gold = span_prf(merge_spans(crowd, gold=gold[gold.doc_id.isin(qdocs)]).spans, gold, rest)["f1"]
    assert with_gold >= plain - 0.02


def test_merged_postings_are_well_formed(sample_postings):
    crowd = simulate_span_crowd(sample_postings, CrowdSimConfig(per_doc=3, seed=1))
    out = merged_postings(sample_postings, merge_spans(crowd).spans)
    assert [p.doc_id for p in out] == [p.doc_id for p in sample_postings]
    for p, q in zip(sample_postings, out):
        assert [s.tokens for s in p.sentences] == [s.tokens for s in q.sentences]
        for s in q.sentences:
            for tags in s.tags.values():
                assert len(tags) == len(s.tokens) and set(tags) <= {"B", "I", "O"}


def test_records_round_trip(sample_postings):
    crowd = simulate_span_crowd(sample_postings[:3], CrowdSimConfig(per_doc=2, seed=2))
    back = SpanCrowd.from_records(crowd.to_records(sample_postings[:3]))
    # to_records drops overlaps inside one annotator's layer (BIO cannot nest); all else survives
    assert len(back.spans) <= len(crowd.spans) and len(back.spans) >= 0.9 * len(crowd.spans)
    assert set(map(tuple, back.assignments.values)) == set(map(tuple, crowd.assignments.values))


def test_feedback_enters_as_annotator():
    text = "We need Python and SQL skills.\nYou manage projects."
    recs = [
        {
            "text": text,
            "keywords": [
                {"start": 8, "end": 14, "type": "Knowledge"},
                {"start": 35, "end": 50, "type": "Skill"},
            ],
            "groups": {"manage projects": ["S4.2"]},
            "annotator": "hr1",
        },
        {"text": text, "keywords": [{"start": 8, "end": 14, "type": "Knowledge"}], "annotator": "hr2"},
    ]
    posts, crowd, groups = feedback_to_crowd(recs)
    assert len(posts) == 1 and posts[0].source == "feedback"
    assert posting_text(posts[0]) == text
    assert set(crowd.annotators) == {"hr1", "hr2"}
    py = crowd.spans[(crowd.spans.type == "Knowledge")]
    assert set(zip(py.sent, py.start, py.end)) == {(0, 2, 3)}
    assert list(groups.itertuples(index=False, name=None)) == [("manage projects", "hr1", "S4.2")]
    merged = merge_spans(crowd).spans
    assert (0, 2, 3, "Knowledge") in set(zip(merged.sent, merged.start, merged.end, merged.type))


def test_single_annotator_document_is_kept():
    crowd = _crowd([("fb", 0, "Skill", 0, 2, "user")], [("fb", "user")])
    merged = merge_spans(crowd).spans
    assert list(zip(merged.start, merged.end)) == [(0, 2)]


def test_group_merge_beats_majority_and_best_annotator():
    gold = {label: l2.split(";") for label, _, l2 in SKILLS} | {
        f"{label} (variant {i})": l2.split(";") for i in range(4) for label, _, l2 in SKILLS
    }
    labels = simulate_group_crowd(gold, CrowdSimConfig(per_doc=5, seed=7))
    gs = {k: set(v) for k, v in gold.items()}
    ds = merge_groups(labels, "one_coin")
    mv = merge_groups(labels, "majority")
    acc_ds, acc_mv = group_accuracy(ds.labels, gs), group_accuracy(mv.labels, gs)
    per_ann = (
        labels.assign(ok=[lab in gs[t] for t, lab in zip(labels.task, labels.label)])
        .groupby("worker")
        .ok.mean()
    )
    assert acc_ds > acc_mv + 0.03 and acc_ds > per_ann.max(), (acc_ds, acc_mv, per_ann.max())
    est = ds.annotators.set_index("annotator")["estimated_accuracy"]
    assert est["ann_spam1"] < 0.2 < est["ann_careful1"]
    assert -1 <= ds.agreement["alpha"] <= 1


def test_one_coin_matches_crowdkit():
    from crowdkit.aggregation import OneCoinDawidSkene

    gold = {label: l2.split(";") for label, _, l2 in SKILLS[:30]}
    labels = simulate_group_crowd(gold, CrowdSimConfig(per_doc=4, seed=11))
    ours, _ = one_coin_dawid_skene(labels)
    theirs = OneCoinDawidSkene(n_iter=100).fit_predict(labels)
    agree = (ours.idxmax(axis=1).reindex(theirs.index) == theirs).mean()
    assert agree >= 0.95


def test_group_gold_questions_are_respected():
    labels = pd.DataFrame(
        [("s1", "a", "X"), ("s1", "b", "X"), ("s1", "c", "Y")], columns=["task", "worker", "label"]
    )
    out = merge_groups(labels, "one_coin", gold={"s1": "Y"})
    assert out.labels.set_index("task").loc["s1", "label"] == "Y"


def test_span_agreement_identical_annotators_is_one(sample_postings):
    rows = []
    docs = []
    for p in sample_postings[:3]:
        for a in ("x", "y"):
            docs.append((p.doc_id, a))
            for si, s in enumerate(p.sentences):
                for t, tags in s.tags.items():
                    rows += [(p.doc_id, si, t, b, e, a) for b, e, _ in bio_to_spans(tags, t)]
    agr = span_agreement(_crowd(rows, docs))
    assert agr["pairwise_strict_f1"] == pytest.approx(1.0)


def test_binary_dawid_skene_matches_crowdkit(sample_postings):
    import random

    from crowdkit.aggregation import DawidSkene

    from common.labels.span_merge import binary_dawid_skene

    rng = random.Random(0)
    rows = []
    acc = {"a": (0.9, 0.9), "b": (0.8, 0.7), "c": (0.6, 0.9), "d": (0.5, 0.5)}
    for t in range(300):
        truth = rng.random() < 0.4
        for w, (se, sp) in acc.items():
            rows.append((t, w, int(rng.random() < se) if truth else int(rng.random() > sp)))
    table = pd.DataFrame(rows, columns=["task", "worker", "label"])
    ours, errs = binary_dawid_skene(table, smoothing=0.0)
    theirs = DawidSkene(n_iter=100).fit(table).probas_[1]
    assert ((ours > 0.5) == (theirs.reindex(ours.index) > 0.5)).mean() >= 0.98
    assert errs.loc["a", "sensitivity"] > errs.loc["d", "sensitivity"]
