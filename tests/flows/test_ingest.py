"""The ingest flow against a loopback job board: every failure recorded, none crashes, re-runs add nothing."""

from __future__ import annotations

import json

import pytest

from common.data.ingest import IngestConfig
from common.data.scrape import ScrapeConfig
from common.data.storage import Store
from common.testing.testsite import build_site, serve

POSTINGS = [
    (f"Role {i}", [f"Posting number {i} is for a data engineer who will build pipelines with Python and SQL.",
                   f"You will work with the analytics team on cloud data platform {i} and mentor others."], ["Python"])
    for i in range(4)
]
BAD = {
    "/private/job.html": "robots_disallowed",
    "/missing.html": "http_error",
    "/slow.html": "timeout",
    "/big.html": "too_large",
    "/file.pdf": "not_html",
    "/loop-a": "redirect_loop",
}


@pytest.fixture(scope="module")
def site():
    s = build_site(POSTINGS, big_bytes=300_000, slow_s=1.5)
    with serve(s.routes) as (base, hits):
        yield base, hits, s


def _cfg() -> IngestConfig:
    return IngestConfig(scrape=ScrapeConfig(timeout_s=0.4, min_interval_s=0.0, max_bytes=200_000, retries=1,
                                            backoff_s=0.05))


def test_ingest_scrape_cases_recorded_and_idempotent(site, settings_env):
    from flows.ingest import ingest_flow

    base, hits, s = site
    urls = [base + p for p in BAD] + [base + "/moved"]
    out = ingest_flow(urls=urls, sitemap=base + "/sitemap.xml", config=_cfg())
    assert out["postings_new"] == len(POSTINGS)  # /moved lands on /jobs/0.html: same text, stored once
    assert out["pages_new"] == len(POSTINGS) + 1  # ...but both URLs are kept as raw pages
    assert out["reasons"] == {f"fetch:{r}": 1 for r in BAD.values()}
    assert hits["/private/job.html"] == 0
    assert hits["/slow.html"] == 2  # one Prefect retry of the transient timeout
    with Store.open(settings_env) as store:
        q = store.quarantine(stage="fetch")
        assert sorted(q["reason"]) == sorted(BAD.values())
        assert {r["url"] for r in q["row"]} == {base + p for p in BAD}
        posts = store.postings()
        assert set(posts["text_source"]) == {"jsonld", "trafilatura"}
        with_ld = posts[posts["text_source"] == "jsonld"].iloc[0]
        assert with_ld["organisation"].startswith("Org ") and with_ld["skills"] == ["Python"]
        runs = store.runs(flow="ingest")
        assert runs.iloc[0]["status"] == "completed" and runs.iloc[0]["metrics"]["postings_new"] == len(POSTINGS)
    assert (settings_env.data_dir / "parquet" / "postings.parquet").exists()

    again = ingest_flow(urls=urls, sitemap=base + "/sitemap.xml", config=_cfg())
    assert again["postings"] == out["postings"] and again["quarantined"] == out["quarantined"]
    assert again["postings_new"] == again["pages_new"] == again["quarantine_new"] == 0
    with Store.open(settings_env) as store:
        assert store.count("postings") == len(POSTINGS) and store.count("quarantine") == len(BAD)
        assert len(store.runs(flow="ingest")) == 2


def test_ingest_folder(tmp_path, settings_env):
    from flows.ingest import ingest_flow

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.html").write_text(
        "<html><body><nav>Home Jobs</nav><article><h1>Welder</h1><p>We need an experienced welder "
        "for our workshop who can read technical drawings and work safely with MIG and TIG equipment.</p>"
        "</article></body></html>", encoding="utf-8")
    (folder / "b.txt").write_text("A plain text posting for a nurse who cares for patients on the ward.",
                                  encoding="utf-8")
    rows = [
        {"idx": 0, "source": "house", "tokens": ["Manage", "a", "team", "."],
         "tags_skill": ["B", "I", "I", "O"], "tags_knowledge": ["O", "O", "O", "O"]},
        {"idx": 0, "source": "house", "tokens": ["Python", "needed"],
         "tags_skill": ["O", "O"], "tags_knowledge": ["B", "O"]},
        {"text": "A JSONL posting for an accountant with strong Excel skills.", "title": "Accountant"},
        {"something": "else"},
    ]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    out = ingest_flow(folder=str(folder))
    assert out["postings_new"] == 4 and out["labels_new"] == 2
    assert out["reasons"] == {"ingest:unreadable_row": 2}
    with Store.open(settings_env) as store:
        posts = store.postings()
        ss = posts[posts["posting_id"] == "train-house-0"].iloc[0]
        assert ss["text"] == "Manage a team .\nPython needed" and ss["split"] == "train"
        labels = store.labels(kind="span")
        assert set(labels["annotator"]) == {"gold"} and labels.iloc[0]["value"]["tags"]["Skill"] == ["B", "I", "I", "O"]
    assert ingest_flow(folder=str(folder))["postings_new"] == 0
