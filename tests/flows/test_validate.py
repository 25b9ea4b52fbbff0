"""The validate flow: bad rows quarantined with reasons, nothing lost, a blocking failure stops the flow."""

from __future__ import annotations

import pytest

from common.data.records import LabelRecord, PostingRecord
from common.data.storage import Store
from common.data.validation import BlockingValidationError

GOOD = "We are looking for a software engineer with experience in Python and SQL to join the data team."


def _seed(store: Store) -> None:
    store.add_postings([PostingRecord(text=f"{GOOD} Posting {i}.", posting_id=f"p{i}") for i in range(5)]
                       + [PostingRecord(text="", posting_id="empty")])
    tokens = ["build", "data", "pipelines"]
    store.add_labels([
        LabelRecord(kind="span", doc_id="p0", item="0", annotator="a1",
                    value={"tokens": tokens, "tags": {"Skill": ["B", "I", "I"], "Knowledge": ["O", "O", "O"]}}),
        LabelRecord(kind="span", doc_id="p0", item="0", annotator="a2",
                    value={"tokens": tokens, "tags": {"Skill": ["I", "I", "O"], "Knowledge": ["O", "O", "O"]}}),
        LabelRecord(kind="span", doc_id="p0", item="0", annotator="a3",
                    value={"tokens": tokens, "tags": {"Skill": ["O", "B", "I"], "Knowledge": ["O", "O", "O"]}}),
    ])
    store.add_labels([
        LabelRecord(kind="group", doc_id=f"s{i}", item=skill, annotator="a1",
                    value={"skill": skill, "groups": codes, "level": 2})
        for i, (skill, codes) in enumerate([("manage staff", ["S4.8"]), ("python", ["061"]),
                                            ("weld metal", ["Q7.7"]), ("teach", ["S1.1"])])
    ])


def test_validate_flow_quarantines_and_keeps_everything(settings_env):
    from flows.validate import validate_flow

    with Store.open(settings_env) as store:
        _seed(store)
    out = validate_flow()
    assert out["postings"]["valid"] == 5 and out["postings"]["quarantined"] == 1
    assert out["span_labels"]["valid"] == 2 and out["span_labels"]["quarantined"] == 1
    assert out["group_labels"]["valid"] == 3 and out["group_labels"]["quarantined"] == 1
    with Store.open(settings_env) as store:
        posts, labels, q = store.postings(), store.labels(), store.quarantine(stage="validate")
        assert set(posts["status"]) == {"valid", "quarantined"} and set(labels["status"]) == {"valid", "quarantined"}
        # nothing lost: every quarantined row is in the quarantine table with its failed expectation
        bad = set(posts.loc[posts["status"] == "quarantined", "posting_id"]) | set(
            labels.loc[labels["status"] == "quarantined", "label_id"])
        assert bad == set(q["row_key"]) and len(q) == 3
        by_key = dict(zip(q["row_key"], q["expectation"], strict=True))
        assert "expect_column_values_to_not_be_null(text)" in by_key["empty"]
        assert any("bio_valid" in e for e in by_key.values())
        assert any("group_code" in e for e in by_key.values())
        assert store.runs(flow="validate").iloc[-1]["status"] == "completed"
    docs = settings_env.data_dir / "validation" / "data_docs" / "index.html"
    assert docs.exists() and list((settings_env.data_dir / "validation" / "results").glob("postings-*.json"))

    again = validate_flow()  # nothing new: no change
    assert again["postings"]["rows"] == 0 and again["data_version"] == out["data_version"]


def test_blocking_failure_stops_flow(settings_env):
    from flows.validate import validate_flow

    with Store.open(settings_env) as store:
        store.add_postings([PostingRecord(text=f"short {i}", posting_id=f"s{i}") for i in range(3)])
    with pytest.raises(BlockingValidationError, match="more than the allowed share"):
        validate_flow(suites=["postings"])
    with Store.open(settings_env) as store:
        assert set(store.postings()["status"]) == {"new"}  # left for the next attempt, not lost
        assert store.runs(flow="validate").iloc[-1]["status"] == "blocked"


def test_unknown_suite_is_an_error(settings_env):
    from flows.validate import validate_flow

    with pytest.raises(ValueError, match="unknown suite"):
        validate_flow(suites=["nope"])
