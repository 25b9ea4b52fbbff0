"""Batch extraction (``common.batch``): every input format, every bad-row class quarantined with
its reason, committed parts, resume, and leftovers of an interrupted part.

Models: the tiny tagger and group model of ``tests/fixtures/saved_models_v1`` (fast, no registry).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "saved_models_v1"
GOOD = {"p1": "we are looking for a python developer with sql",
        "p2": "strong communication and project management skills",
        "p3": "python and sql for data management"}


@pytest.fixture(scope="module")
def models():
    from common.batch.models import ModelPaths, load_models

    paths = ModelPaths(keywords=str(FIXTURE / "tagger"), groups=str(FIXTURE / "groups"),
                       tags=(("keywords", "dir:tagger"), ("groups", "dir:groups")))
    return load_models(paths, device="cpu")


def _mixed_jsonl(path: Path) -> Path:
    lines = [json.dumps({"id": "p1", "text": GOOD["p1"]}).encode(),
             json.dumps({"text": "no id at all"}).encode(),
             json.dumps({"id": "p2", "text": GOOD["p2"]}).encode(),
             json.dumps({"id": "p1", "text": "the same id again"}).encode(),
             json.dumps({"id": "e", "text": "  \n "}).encode(),
             json.dumps({"id": "n", "text": 42}).encode(),
             json.dumps({"id": "big", "text": "python " * 40}).encode(),
             b'{"id": "bytes", "text": "caf\xe9"}',
             b"this is not json",
             json.dumps({"id": "p3", "text": GOOD["p3"]}).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _run(models, src, out, part_size=2, limit=None, max_chars=200):
    from common.batch import BatchConfig, done_state, read_postings, run_batch

    cfg = BatchConfig(part_size=part_size, links=False, occupations=False)
    return run_batch(read_postings(src, max_chars), out, models, cfg, done_state(out), limit=limit, progress=False)


def test_a_mixed_input_writes_the_good_rows_and_quarantines_every_bad_one(models, tmp_path):
    from common.batch import read_output

    summary = _run(models, _mixed_jsonl(tmp_path / "in.jsonl"), tmp_path / "out")
    posts = read_output(tmp_path / "out", "postings")
    assert sorted(posts["posting_id"]) == ["p1", "p2", "p3"] and set(posts["status"]) == {"ok"}
    assert summary.extracted == 3 and summary.quarantined == 7
    q = read_output(tmp_path / "out", "quarantine").set_index("line")
    assert q.loc[2, "reason"] == "no id"
    assert q.loc[4, "reason"].startswith("duplicate id") and q.loc[4, "id"] == "p1"
    assert q.loc[5, "reason"] == "text is empty"
    assert q.loc[6, "reason"] == "text is not a string (int)"
    assert q.loc[7, "reason"] == "text has 280 characters; the limit is 200"
    assert q.loc[8, "reason"].startswith("undecodable bytes")
    assert q.loc[9, "reason"].startswith("not a JSON object")
    # the keywords are the tagger's, with offsets into each posting and the group codes of each phrase
    kws = read_output(tmp_path / "out", "keywords")
    direct = models.tagger.extract([GOOD["p1"]])[0]
    got = kws[kws["posting_id"] == "p1"]
    assert [(r.start, r.end, r.type) for r in got.itertuples()] == [(k.start, k.end, k.type) for k in direct]
    assert all(GOOD["p1"][r.start:r.end] == r.text for r in got.itertuples())
    assert all(len(g) >= 1 for g in got["groups"])
    counts = posts.set_index("posting_id")["n_keywords"]
    assert counts.to_dict() == kws.groupby("posting_id").size().reindex(counts.index, fill_value=0).to_dict()


def test_csv_parquet_and_a_folder_of_texts_read_the_same_postings(tmp_path):
    from common.batch import BadRow, Posting, read_postings

    csv = tmp_path / "in.csv"
    csv.write_bytes(b"id,text\np1,python and sql\n,no id\np2,caf\xe9 au lait\np3,\n")
    rows = list(read_postings(csv, 100))
    assert rows[0] == Posting("p1", "python and sql")
    assert [(r.line, r.reason.split(" (")[0]) for r in rows[1:]] == [(3, "no id"), (4, "undecodable bytes"),
                                                                    (5, "text is empty")]
    pq = tmp_path / "in.parquet"
    pd.DataFrame({"id": ["a", "b", None], "text": ["python", None, "sql"]}).to_parquet(pq)
    rows = list(read_postings(pq, 100))
    assert rows[0] == Posting("a", "python")
    assert isinstance(rows[1], BadRow) and rows[1].reason == "text is not a string (NoneType)"
    assert isinstance(rows[2], BadRow) and rows[2].reason == "no id"
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("python developer")
    (folder / "sub" / "two.txt").write_bytes(b"\xff\xfe broken")
    rows = list(read_postings(folder, 100))
    assert rows[0] == Posting("one", "python developer")
    assert isinstance(rows[1], BadRow) and rows[1].id == "sub/two" and rows[1].reason.startswith("undecodable")
    with pytest.raises(ValueError, match="needs 'id' and 'text'"):
        (tmp_path / "bad.csv").write_text("key,body\n1,x\n")
        list(read_postings(tmp_path / "bad.csv", 100))
    with pytest.raises(ValueError, match="unknown input format"):
        (tmp_path / "in.xml").write_text("<x/>")
        list(read_postings(tmp_path / "in.xml", 100))


def test_a_rerun_skips_what_is_done_and_quarantines_nothing_twice(models, tmp_path):
    from common.batch import read_output

    src = _mixed_jsonl(tmp_path / "in.jsonl")
    first = _run(models, src, tmp_path / "out", limit=2)
    assert first.extracted == 2
    second = _run(models, src, tmp_path / "out")
    assert second.extracted == 1 and second.skipped_done == 2 and second.quarantined == 0
    assert sorted(read_output(tmp_path / "out", "postings")["posting_id"]) == ["p1", "p2", "p3"]
    assert len(read_output(tmp_path / "out", "quarantine")) == 7


def test_the_leftovers_of_an_interrupted_part_are_removed(models, tmp_path):
    from common.batch import done_state, read_output

    out = tmp_path / "out"
    _run(models, _mixed_jsonl(tmp_path / "in.jsonl"), out)
    orphan = out / "keywords" / "part-dead-00000.parquet"  # a part whose postings file never landed
    pd.DataFrame({"posting_id": ["ghost"]}).to_parquet(orphan)
    (out / "postings" / "part-dead-00000.tmp").write_bytes(b"half a file")
    state = done_state(out)
    assert not orphan.exists() and not (out / "postings" / "part-dead-00000.tmp").exists()
    assert state.posting_ids == {"p1", "p2", "p3"}
    assert "ghost" not in set(read_output(out, "keywords")["posting_id"])


def test_a_posting_that_breaks_the_model_fails_alone(models, tmp_path, monkeypatch):
    from common.batch import read_output

    real = models.tagger.extract

    def fragile(texts):
        if any("communication" in t for t in texts):
            raise RuntimeError("boom")
        return real(texts)

    monkeypatch.setattr(models.tagger, "extract", fragile)
    summary = _run(models, _mixed_jsonl(tmp_path / "in.jsonl"), tmp_path / "out", part_size=10)
    posts = read_output(tmp_path / "out", "postings").set_index("posting_id")
    assert posts.loc["p2", "status"] == "failed" and "boom" in posts.loc["p2", "error"]
    assert set(posts.loc[["p1", "p3"], "status"]) == {"ok"} and summary.failed == 1
    q = read_output(tmp_path / "out", "quarantine")
    assert q[q["id"] == "p2"]["reason"].str.contains("boom").all()


def test_postings_from_the_store_are_the_ones_not_done_by_these_models(tmp_path, monkeypatch):
    from common.batch.inputs import Posting, postings_from_store
    from common.core.settings import get_settings
    from common.data.records import PostingRecord
    from common.data.storage import Store

    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        with Store.open() as store:
            store.add_postings([PostingRecord(posting_id=k, text=v, status="valid") for k, v in GOOD.items()])
            store.add_postings([PostingRecord(posting_id="new", text="not validated yet")])
            assert {p.id for p in postings_from_store(store, "models-A", 1000)} == {"p1", "p2", "p3"}
            store.add_extractions([{"posting_id": "p1", "models": "models-A"}], [])
            assert [p.id for p in postings_from_store(store, "models-A", 1000)] == ["p2", "p3"]
            # a new champion is another models key: everything is extracted again
            assert {p.id for p in postings_from_store(store, "models-B", 1000)} == {"p1", "p2", "p3"}
            assert all(isinstance(p, Posting) for p in postings_from_store(store, "models-B", 1000))
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def linked_models(make_tiny_linker):
    """The tiny tagger with a tiny linker (random BERT, every candidate linked: threshold 0)."""
    from common.batch.models import ModelPaths, load_models

    folder = make_tiny_linker(["python", "sql", "communication", "project management", "data management",
                               "software design"])
    paths = ModelPaths(keywords=str(FIXTURE / "tagger"), linker=str(folder),
                       tags=(("keywords", "dir:tagger"), ("linker", "dir:linker")))
    return load_models(paths, device="cpu")


def test_skills_rank_each_postings_esco_skills_like_the_library(linked_models, tmp_path):
    """With ``skills`` each posting's ESCO skills land in skills/ parts, as ``link_posting`` ranks
    them from the same text and keywords; the keywords' links come from the same pass. Without it
    no skills file is written and the keywords keep their links."""
    from common.batch import BatchConfig, done_state, read_output, read_postings, run_batch
    from common.linking.skills import link_posting

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"id": k, "text": v}) for k, v in GOOD.items()) + "\n")
    out = tmp_path / "out"
    cfg = BatchConfig(part_size=2, skills=True, groups=False, occupations=False)
    summary = run_batch(read_postings(src, 500), out, linked_models, cfg, done_state(out), progress=False)
    skills, kws = read_output(out, "skills"), read_output(out, "keywords")
    assert summary.extracted == 3 and summary.skills == len(skills) > 0
    for pid, text in GOOD.items():
        found = linked_models.tagger.extract([text])[0]
        local = link_posting(linked_models.linker, text, found)
        mine = skills[skills.posting_id == pid].sort_values("rank")
        assert list(mine["uri"]) == [s.uri for s in local.skills] and list(mine["rank"]) == list(range(1, len(mine) + 1))
        assert list(mine["implied"]) == [s.implied for s in local.skills]
        for s, ev in zip(local.skills, mine["evidence"], strict=True):
            assert ev == " | ".join(e.text for e in s.evidence) and all(e.text in text for e in s.evidence)
        assert list(kws[kws.posting_id == pid]["esco_uri"]) == [m.uri if m else None for m in local.links]
    orphan = out / "skills" / "part-dead-00000.parquet"  # a skills file whose postings file never landed
    pd.DataFrame({"posting_id": ["ghost"]}).to_parquet(orphan)
    done_state(out)
    assert not orphan.exists()

    plain = tmp_path / "plain"
    cfg = BatchConfig(part_size=2, groups=False, occupations=False)
    assert run_batch(read_postings(src, 500), plain, linked_models, cfg, done_state(plain), progress=False).skills == 0
    assert read_output(plain, "skills").empty and not list((plain / "skills").glob("*.parquet"))
    assert list(read_output(plain, "keywords")["esco_uri"]) == list(kws["esco_uri"])
