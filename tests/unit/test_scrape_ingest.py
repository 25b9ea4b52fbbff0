"""Ingest steps as plain functions: fetch results to rows, parse failures, per-host slots, JSONL inputs."""

from __future__ import annotations

import json

from common.data.ingest import IngestConfig, fetch_to_batch, host_slots, page_to_posting, read_jsonl, summarise
from common.data.records import RawPage
from common.data.scrape import FetchResult


def test_fetch_results_become_pages_or_quarantine():
    ok = fetch_to_batch(FetchResult(url="http://a/1", ok=True, text="<p>x</p>", status_code=200), run_id="r")
    assert len(ok.pages) == 1 and not ok.quarantine and ok.pages[0].run_id == "r"
    bad = fetch_to_batch(FetchResult(url="http://a/2", ok=False, error="http_error", detail="HTTP 404", status_code=404))
    q = bad.quarantine[0]
    assert not bad.pages and q.stage == "fetch" and q.reason == "http_error" and q.row["status_code"] == 404
    # the same failure twice has the same id, so the store keeps it once
    assert q.quarantine_id == fetch_to_batch(
        FetchResult(url="http://a/2", ok=False, error="http_error")).quarantine[0].quarantine_id


def test_page_without_posting_is_quarantined():
    b = page_to_posting(RawPage(url="http://a/3", html="<html><body><nav>Home</nav></body></html>"))
    assert not b.postings and b.quarantine[0].reason == "no_posting_text" and b.quarantine[0].stage == "extract"


def test_host_slots_space_requests_per_host():
    urls = ["http://a/1", "http://b/1", "http://a/2", "http://a/3", "http://b/2"]
    assert host_slots(urls, 2.0, 100.0) == [100.0, 100.0, 102.0, 104.0, 102.0]


def test_read_jsonl_kinds(tmp_path):
    p = tmp_path / "dev.jsonl"
    rows = [
        {"idx": 3, "source": "tech", "tokens": ["Java", "dev"], "tags_skill": ["O", "O"], "tags_knowledge": ["B", "O"]},
        {"idx": 3, "source": "tech", "tokens": ["Agile"], "tags_skill": ["O"]},  # no knowledge layer
        {"html": "<p>hi</p>", "url": "http://x/y"},
        {"kind": "group", "doc_id": "s1", "item": "java", "annotator": "a", "value": {"skill": "java", "groups": ["06"]}},
        {"description": "A posting with a description field only, long enough to keep."},
        [1, 2],
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    b = read_jsonl(p, IngestConfig())
    assert [x.posting_id for x in b.postings if x.split == "dev"] == ["dev-tech-3"]
    assert len(b.pages) == 1 and b.pages[0].url == "http://x/y"
    assert {lab.kind for lab in b.labels} == {"span", "group"}
    assert summarise(b)["reasons"] == {"ingest:skillspan_row_without_tags": 1, "ingest:unreadable_row": 1}
    assert any(x.text.startswith("A posting with a description") for x in b.postings)
