"""Every stage that finds nothing to do names what is waiting and the command that moves it on.

The counts come from a real DuckDB store holding the sample crowd labels in each state a user
meets (just ingested, validated, quarantined, merged).
"""

from __future__ import annotations

import json

import pytest

from common.data.records import LabelRecord, MergedLabelRecord
from common.data.sample import SAMPLE_DIR
from common.data.storage import Store
from common.pipeline import waiting


def _sample_labels(status: str, n: int = 12) -> list[LabelRecord]:
    rows = [json.loads(line) for line in (SAMPLE_DIR / "inbox" / "crowd_labels.jsonl").read_text().splitlines()[:n]]
    return [LabelRecord(**r, status=status) for r in rows]


@pytest.fixture()
def store(settings_env):
    with Store.open() as s:
        yield s


def test_ingest_of_an_empty_folder_and_of_a_folder_already_stored(tmp_path):
    assert "held no postings or labels" in waiting.after_ingest(0, 0, str(tmp_path))
    again = waiting.after_ingest(7555, 0, "crowd/")
    assert "7,555 items in crowd/ are already stored" in again and "`jobskills pipeline validate`" in again
    assert waiting.after_ingest(10, 3, "x") is None


def test_validate_with_nothing_new_says_what_to_run(store):
    assert "the store is empty" in waiting.after_validate(0, waiting.store_counts(store))
    store.add_labels(_sample_labels("valid"))
    hint = waiting.after_validate(0, waiting.store_counts(store))
    assert "checked already" in hint and "--revalidate" in hint and "`jobskills pipeline merge-labels`" in hint
    assert waiting.after_validate(5, waiting.store_counts(store)) is None


def test_merge_names_labels_waiting_for_validation(store):
    assert "no crowd labels" in waiting.after_merge(0, waiting.store_counts(store))
    store.add_labels(_sample_labels("new"))
    hint = waiting.after_merge(0, waiting.store_counts(store))
    assert hint == ("merged nothing: 12 labels are waiting for validation; run `jobskills pipeline validate`, "
                    "then `jobskills pipeline merge-labels`")


def test_merge_of_only_quarantined_labels_points_at_the_quarantine(store):
    store.add_labels(_sample_labels("quarantined", n=3))
    hint = waiting.after_merge(0, waiting.store_counts(store))
    assert "all 3 labels were quarantined" in hint and "jobskills data quarantine" in hint


def test_training_without_postings_names_the_stage_that_holds_them(store):
    store.add_labels(_sample_labels("valid"))
    assert "not merged yet; run `jobskills pipeline merge-labels`" in waiting.before_training(0, waiting.store_counts(store))
    store.add_merged_labels([MergedLabelRecord(kind="span", doc_id="d", item="0", value={})])
    assert "no SkillSpan train file" in waiting.before_training(0, waiting.store_counts(store))
    assert waiting.before_training(4, waiting.store_counts(store)) is None


def test_evaluate_and_promote_with_no_candidate():
    assert "no candidate model was trained" in waiting.after_evaluate(0)
    assert "`jobskills pipeline retrain`" in waiting.after_promote(0)
    assert waiting.after_evaluate(1) is None and waiting.after_promote(2) is None


def test_monitor_with_an_empty_window(tmp_path):
    hint = waiting.empty_window(0, 168, tmp_path / "logs")
    assert "no served postings in the last 168 h" in hint and "`jobskills serve`" in hint
    assert waiting.empty_window(3, 168, tmp_path) is None
