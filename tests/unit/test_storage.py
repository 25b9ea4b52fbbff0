"""The storage contract: idempotent, transactional writes; same API on DuckDB and PostgreSQL.

``tests/data/test_postgres_storage.py`` runs these same test functions against a real
PostgreSQL server by overriding the ``store`` fixture.
"""

from __future__ import annotations

import pandas as pd
import pytest

from common.data.records import (
    LabelRecord,
    MergedLabelRecord,
    PostingRecord,
    QuarantineRecord,
    RawPage,
    RunRecord,
    content_hash,
)
from common.data.storage import TABLES, Store


@pytest.fixture()
def store(settings_env):
    with Store.open(settings_env) as s:
        yield s


def _postings(n: int, prefix: str = "posting") -> list[PostingRecord]:
    return [PostingRecord(text=f"{prefix} {i} we need python and sql", url=f"http://x/{prefix}/{i}") for i in range(n)]


def test_postings_idempotent_by_content_hash(store):
    assert store.add_postings(_postings(3)) == 3
    # the same batch again, and the same texts with other whitespace under other URLs: nothing new
    again = [PostingRecord(text=p.text.replace(" ", "  "), url=p.url + "?dup") for p in _postings(3)]
    assert store.add_postings(_postings(3)) == 0
    assert store.add_postings(again) == 0
    assert store.count("postings") == 3
    # duplicates inside one batch are stored once
    assert store.add_postings(_postings(2, "new") + _postings(2, "new")) == 2
    df = store.postings()
    assert len(df) == 5 and df["posting_id"].is_unique and df["content_hash"].is_unique
    assert set(df["status"]) == {"new"}
    assert df.iloc[0]["skills"] == []


def test_raw_pages_keyed_by_url_and_hash(store):
    pages = [RawPage(url="http://a/1", html="<p>one</p>"), RawPage(url="http://a/2", html="<p>one</p>")]
    assert store.add_raw_pages(pages) == 2
    assert store.add_raw_pages(pages) == 0
    # the same URL with changed content is a new version
    assert store.add_raw_pages([RawPage(url="http://a/1", html="<p>changed</p>")]) == 1
    assert sorted(store.raw_pages(url="http://a/1")["html"]) == ["<p>changed</p>", "<p>one</p>"]


def test_labels_merged_and_json_round_trip(store):
    value = {"tokens": ["Python", "dev"], "tags": {"Skill": ["O", "O"], "Knowledge": ["B", "O"]}}
    rows = [LabelRecord(kind="span", doc_id="d1", item="0", annotator=a, value=value) for a in ("a1", "a2")]
    assert store.add_labels(rows) == 2
    assert store.add_labels(rows) == 0
    got = store.labels(kind="span")
    assert got.iloc[0]["value"] == value and set(got["annotator"]) == {"a1", "a2"}
    m = MergedLabelRecord(kind="span", doc_id="d1", item="0", value=value, confidence=0.9, method="vote")
    store.add_merged_labels([m])
    store.add_merged_labels([m.model_copy(update={"confidence": 0.5, "method": "ds"})])
    merged = store.merged_labels()
    assert len(merged) == 1 and merged.iloc[0]["method"] == "ds" and merged.iloc[0]["confidence"] == 0.5


def test_quarantine_and_status_and_data_version(store):
    store.add_postings(_postings(4))
    ids = list(store.postings()["posting_id"])
    v0 = store.data_version()
    store.set_status("postings", ids[:3], "valid")
    store.set_status("postings", ids[3:], "quarantined")
    q = QuarantineRecord(stage="validate", source_table="postings", row_key=ids[3], reason="too short", row={"x": 1})
    assert store.add_quarantine([q, q]) == 1
    assert store.add_quarantine([q]) == 0
    assert len(store.postings(status="valid")) == 3
    assert store.quarantine(stage="validate").iloc[0]["row"] == {"x": 1}
    v1 = store.data_version()
    assert v1 != v0 and store.data_version() == v1


def test_record_run_merges_updates(store):
    store.record_run(RunRecord(run_id="r1", flow="ingest", params={"urls": 3}))
    store.record_run(RunRecord(run_id="r1", flow="ingest", status="completed", metrics={"postings": 2}))
    runs = store.runs(flow="ingest")
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "completed" and row["params"] == {"urls": 3} and row["metrics"] == {"postings": 2}


def test_write_is_atomic(store):
    """A batch with one invalid row writes nothing (validation happens before the transaction)."""
    store.add_postings(_postings(1))
    with pytest.raises(ValueError, match="text"):
        store.add_postings([{"text": "fine text"}, {"url": "no text at all"}])
    assert store.count("postings") == 1


def test_dataframe_in_dataframe_out(store):
    df = pd.DataFrame({"text": ["alpha beta", "gamma delta"], "source": ["house", "tech"], "title": [None, "T"]})
    assert store.add_postings(df) == 2
    out = store.postings(source="tech")
    assert list(out["title"]) == ["T"]
    assert out.iloc[0]["content_hash"] == content_hash("gamma delta")


def test_parquet_export_matches_tables(store, tmp_path):
    store.add_postings(_postings(2))
    paths = store.export_parquet(tmp_path / "pq")
    assert set(paths) == set(TABLES)
    assert len(pd.read_parquet(paths["postings"])) == 2
    assert len(pd.read_parquet(paths["quarantine"])) == 0
    assert not list((tmp_path / "pq").glob(".*tmp*"))


def test_span_postings_round_trip(store, shared_data):
    """SkillSpan postings stored as postings + gold span labels come back identical."""
    from common.data.ingest import read_jsonl
    from common.data.skillspan import load_skillspan

    batch = read_jsonl(shared_data / "skillspan" / "dev.jsonl")
    store.add_postings(batch.postings)
    store.add_labels(batch.labels)
    store.set_status("postings", [p.posting_id for p in batch.postings], "valid")
    store.set_status("labels", [lab.label_id for lab in batch.labels], "valid")
    back = {p.doc_id: p for p in store.span_postings(labels_from="gold")}
    orig = load_skillspan("dev", shared_data)
    assert len(back) == len(orig)
    for p in orig[:10]:
        assert [s.tokens for s in back[p.doc_id].sentences] == [s.tokens for s in p.sentences]
        assert [s.tags for s in back[p.doc_id].sentences] == [s.tags for s in p.sentences]
    assert store.span_postings(labels_from="merged") == []
