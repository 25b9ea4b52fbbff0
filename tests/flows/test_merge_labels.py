"""The merge-labels flow on stored crowd labels plus feedback: merged labels stored, reports written."""

from __future__ import annotations

import json

from common.testing.crowd_sim import CrowdSimConfig, simulate_span_crowd
from common.data.records import LabelRecord, PostingRecord
from common.data.request_log import log_feedback
from common.data.sample import SAMPLE_DIR
from common.data.skillspan import load_skillspan
from common.text.spans import posting_text
from common.data.storage import Store


def test_merge_flow_stores_merged_labels_gold_and_feedback(settings_env):
    from flows.merge_labels import merge_labels_flow

    posts = load_skillspan("train", SAMPLE_DIR)
    crowd_posts, gold_posts = posts[:8], posts[8:10]
    crowd = simulate_span_crowd(crowd_posts, CrowdSimConfig(per_doc=5, seed=4))
    labels = []
    for rec in crowd.to_records(crowd_posts):
        toks = next(p for p in crowd_posts if p.doc_id == rec["doc_id"]).sentences[rec["sent"]].tokens
        labels.append(
            LabelRecord(
                kind="span",
                doc_id=rec["doc_id"],
                item=str(rec["sent"]),
                annotator=rec["annotator"],
                status="valid",
                value={
                    "tokens": toks,
                    "tags": {"Skill": rec["tags_skill"], "Knowledge": rec["tags_knowledge"]},
                },
            )
        )
    for p in gold_posts:
        for i, s in enumerate(p.sentences):
            labels.append(
                LabelRecord(
                    kind="span",
                    doc_id=p.doc_id,
                    item=str(i),
                    annotator="gold",
                    source="gold",
                    status="valid",
                    value={"tokens": s.tokens, "tags": s.tags},
                )
            )
    for skill, ann, code in [
        ("negotiate contracts", "a", "S1.1"),
        ("negotiate contracts", "b", "S1.1"),
        ("negotiate contracts", "c", "S4.2"),
    ]:
        labels.append(
            LabelRecord(
                kind="group",
                doc_id=skill,
                item=skill,
                annotator=ann,
                status="valid",
                value={"skill": skill, "groups": [code], "level": 2},
            )
        )
    with Store.open(settings_env) as store:
        store.add_postings(
            [
                PostingRecord(posting_id=p.doc_id, text=posting_text(p), split="train", status="valid")
                for p in posts[:10]
            ]
        )
        store.add_labels(labels)
    text = "Strong Python skills required"
    log_feedback(
        settings_env.feedback_dir,
        [
            {
                "text": text,
                "keywords": [{"start": 7, "end": 13, "type": "Knowledge"}],
                "groups": {"python": ["061"]},
                "annotator": "recruiter1",
            }
        ],
    )

    out = merge_labels_flow()
    assert out["spans"]["crowd_documents"] == 9  # 8 crowd postings + 1 feedback text
    assert out["spans"]["gold_documents"] == 2
    assert set(out["spans"]["spammers"]) <= {"ann_spam1", "ann_spam2"} and out["spans"]["spammers"]
    assert out["feedback"]["records"] == 1
    with Store.open(settings_env) as store:
        merged = store.merged_labels()
    spans = merged[merged["kind"] == "span"]
    assert set(spans["doc_id"]) >= {p.doc_id for p in posts[:10]}
    # gold documents pass through unchanged
    g = spans[(spans["doc_id"] == gold_posts[0].doc_id) & (spans["item"] == "1")].iloc[0]
    assert g["method"] == "gold" and g["value"]["tags"] == gold_posts[0].sentences[1].tags
    fb = spans[spans["doc_id"].str.startswith("fb-")].iloc[0]
    assert fb["value"]["tokens"] == ["Strong", "Python", "skills", "required"]
    assert fb["value"]["tags"]["Knowledge"] == ["O", "B", "O", "O"]
    groups = merged[merged["kind"] == "group"].set_index("item")
    assert groups.loc["negotiate contracts", "value"]["groups"] == ["S1.1"]
    assert groups.loc["python", "value"]["groups"] == ["061"]
    rep = json.loads(open(out["reports"]["report"]).read())
    assert 0 < rep["spans"]["agreement"]["pairwise_strict_f1"] < 1
    assert "span_annotators" in out["reports"]

    again = merge_labels_flow()  # re-running replaces, never duplicates
    with Store.open(settings_env) as store:
        assert len(store.merged_labels()) == len(merged)
    assert again["data_version"] == out["data_version"]
