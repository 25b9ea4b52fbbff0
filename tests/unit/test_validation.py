"""GX validation: bad rows are quarantined with the failed expectation, nothing is lost, blocking stops."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from common.data.records import LabelRecord, PostingRecord
from common.data.validation import (
    SUITES,
    BlockingValidationError,
    expectations_dir,
    load_suite_spec,
    raise_if_blocked,
    validate_batch,
)

GOOD = "We are looking for a software engineer with experience in Python and SQL to join the data team."


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([r.model_dump() for r in rows])


def _span(item, tags_skill, tokens=("build", "data", "pipelines"), layers=None):
    tags = layers or {"Skill": list(tags_skill), "Knowledge": ["O"] * len(tokens)}
    return LabelRecord(kind="span", doc_id="d1", item=str(item), annotator="ann",
                       value={"tokens": list(tokens), "tags": tags})


def test_suite_files_are_gx_suites():
    import great_expectations as gx

    for name in SUITES:
        spec = load_suite_spec(name)
        assert spec["name"] == name and spec["expectations"]
        gx.ExpectationSuite(name=name, expectations=spec["expectations"])  # parses
    assert (expectations_dir() / "postings.json").exists()


def test_postings_bad_rows_quarantined_nothing_lost(tmp_path):
    rows = [PostingRecord(text=GOOD + f" Posting {i}.", url=f"https://jobs.example/{i}") for i in range(6)]
    rows += [
        PostingRecord(text="   ", posting_id="empty"),
        PostingRecord(text="Nous recherchons un ingénieur logiciel avec de l'expérience en Python pour notre équipe.",
                      posting_id="french"),
        PostingRecord(text=GOOD + " " + "!" * 500, posting_id="garbage"),
    ]
    df = _frame(rows)
    out = validate_batch("postings", df, out_dir=tmp_path)
    assert not out.blocked
    failed_ids = {df.iloc[i]["posting_id"]: [e.id for e in es] for i, es in out.failed.items()}
    assert set(failed_ids) == {"empty", "french", "garbage"}
    assert "expect_column_values_to_not_be_null(text)" in failed_ids["empty"]
    assert failed_ids["french"] == ["expect_column_values_to_be_in_set(language)"]
    assert failed_ids["garbage"] == ["expect_column_values_to_be_between(max_char_repeat)"]
    assert len(out.valid_rows) + len(out.failed) == len(df)  # nothing lost
    q = out.quarantine_records(df, "posting_id", "postings", run_id="r")
    assert {r.row_key for r in q} == {"empty", "french", "garbage"}
    assert all(r.stage == "validate" and r.expectation and r.reason for r in q)
    saved = json.loads(out.result_path.read_text())
    assert saved["quarantined"] == 3 and saved["gx_result"]["results"]
    assert out.docs_path.exists() and list((tmp_path / "data_docs" / "validations").rglob("*.html"))


def test_span_labels_bad_bio_and_alignment():
    rows = [
        _span(0, ["B", "I", "O"]),
        _span(1, ["O", "B", "I"]),
        _span(2, ["I", "O", "O"]),  # I starts a span
        _span(3, ["B", "O"]),  # one tag short
        _span(4, ["B-Skill", "O", "O"]),  # typed tag in a bare layer
        _span(5, [], layers={"Skill": ["O"] * 3, "Tool": ["O"] * 3}),  # unknown layer
        _span(6, ["O", "O", "O"]),
        _span(7, ["B", "B", "I"]),
        _span(8, ["O", "O", "B"]),
    ]
    df = _frame(rows)
    out = validate_batch("span_labels", df)
    reasons = {int(df.iloc[i]["item"]): {e.id for e in es} for i, es in out.failed.items()}
    assert set(reasons) == {2, 3, 4, 5}
    assert "expect_column_values_to_be_in_set(bio_valid)" in reasons[2]
    assert "expect_column_values_to_be_in_set(tags_aligned)" in reasons[3]
    assert "expect_column_values_to_be_in_set(tag_vocab_ok)" in reasons[4]
    assert "expect_column_values_to_be_in_set(layers_known)" in reasons[5]
    assert sorted(out.valid_rows) == [0, 1, 6, 7, 8]


def _group(i, codes, skill="manage a team"):
    return LabelRecord(kind="group", doc_id=f"s{i}", item=skill, annotator="ann",
                       value={"skill": skill, "groups": codes, "level": 2})


def test_group_labels_unknown_codes():
    rows = [_group(0, ["S4.8"]), _group(1, ["06", "061"]), _group(2, ["Z9.9"]), _group(3, ["S9.9"]),
            _group(4, []), _group(5, ["T1"]), _group(6, ["0613"]), _group(7, ["S1.1.1"])]
    df = _frame(rows)
    vocab = ["S4", "S4.8", "06", "061", "0613", "T1", "S1.1.1"]
    out = validate_batch("group_labels", df, parameters={"esco_group_codes": vocab})
    failed = {df.iloc[i]["doc_id"]: {e.id for e in es} for i, es in out.failed.items()}
    assert set(failed) == {"s2", "s3", "s4"}
    assert "expect_column_values_to_match_regex(group_code)" in failed["s2"]  # not even code-shaped
    assert failed["s3"] == {"expect_column_values_to_be_in_set(group_code)"}  # code-shaped but unknown
    assert failed["s4"] == {"expect_column_values_to_not_be_null(group_code)"}
    # without the vocabulary the set check is skipped (and said so), the pattern still applies
    out2 = validate_batch("group_labels", df)
    assert out2.skipped == ["expect_column_values_to_be_in_set(group_code)"]
    assert {df.iloc[i]["doc_id"] for i in out2.failed} == {"s2", "s4"}


def test_group_codes_from_esco(shared_data):
    from common.data.validation import esco_group_codes

    codes = esco_group_codes(shared_data / "esco")
    assert len(codes) == 640 and "S4.8" in codes and "061" in codes


def test_blocking_expectations_stop_the_batch():
    out = validate_batch("postings", pd.DataFrame({"posting_id": ["a", "b"], "title": ["x", "y"]}))
    assert out.blocked and out.valid_rows == []
    assert any("expect_column_to_exist(text)" in r for r in out.block_reasons)
    with pytest.raises(BlockingValidationError, match="expect_column_to_exist\\(text\\)"):
        raise_if_blocked(out)
    dup = _frame([PostingRecord(text=GOOD, posting_id="same"), PostingRecord(text=GOOD + " again", posting_id="same")])
    assert any("be_unique(posting_id)" in r for r in validate_batch("postings", dup).block_reasons)


def test_too_many_bad_rows_block():
    rows = [PostingRecord(text="too short", posting_id=f"p{i}") for i in range(3)] + [PostingRecord(text=GOOD)]
    out = validate_batch("postings", _frame(rows))
    assert out.blocked and "more than the allowed share" in out.block_reasons[-1]
