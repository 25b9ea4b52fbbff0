"""Batch extraction as a user runs it: ``jobskills extract-batch`` killed with SIGKILL mid-run and
re-run gives exactly the rows of an uninterrupted run; a local Dask cluster gives the rows of one
process; the ``batch_extract`` flow extracts only the stored postings the current models have not
done, in-process and on Dask. Inputs are real SkillSpan postings (skipped without ../shared/data);
models are the tiny tagger and group model of ``tests/fixtures/saved_models_v1``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "saved_models_v1"
MODELS = ["--model", str(FIXTURE / "tagger"), "--group-model", str(FIXTURE / "groups"), "--no-links",
          "--no-occupations"]


@pytest.fixture(scope="module")
def postings_file(tmp_path_factory) -> Path:
    from common.data.skillspan import load_skillspan
    from common.text.spans import posting_text

    try:
        posts = load_skillspan("train")
    except FileNotFoundError as exc:
        pytest.skip(f"SkillSpan absent: {exc}")
    path = tmp_path_factory.mktemp("batch") / "postings.jsonl"
    rows = [{"id": f"{p.doc_id}-{r}", "text": posting_text(p)} for r in range(3) for p in posts]  # ~800 postings
    rows.insert(5, {"id": rows[0]["id"], "text": "a duplicate id"})
    rows.insert(9, {"text": "no id"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _cmd(args: list[str], env: dict[str, str]) -> list[str]:
    return [sys.executable, "-c", "from jobskills.cli.main import app; app()", "extract-batch", *args]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSKILLS_")}
    return {**env, "JOBSKILLS_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}


def _rows(out: Path, kind: str) -> pd.DataFrame:
    from common.batch import read_output

    df = read_output(out, kind).drop(columns=["extracted_at"], errors="ignore")
    key = {"postings": ["posting_id"], "keywords": ["posting_id", "start", "type"], "quarantine": ["line"]}[kind]
    df = df.sort_values(key).reset_index(drop=True)
    return df.astype(object).where(df.notna(), None)


def test_a_run_killed_mid_way_and_rerun_writes_exactly_the_rows_of_an_uninterrupted_run(postings_file, tmp_path):
    env = _env(tmp_path)
    args = [str(postings_file), "--part-size", "8", "--threads", "1", "--quiet", *MODELS]
    full = subprocess.run(_cmd([*args, "--out", str(tmp_path / "full")], env), env=env, capture_output=True,
                          text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd([*args, "--out", str(killed)], env), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((killed / "postings").glob("part-*.parquet")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    committed = len(list((killed / "postings").glob("part-*.parquet")))
    total = len(list((tmp_path / "full" / "postings").glob("part-*.parquet")))
    assert 1 <= committed < total, f"the kill came after {committed} of {total} parts: not mid-way"
    again = subprocess.run(_cmd([*args, "--out", str(killed)], env), env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already done" in again.stderr
    for kind in ("postings", "keywords", "quarantine"):
        got, want = _rows(killed, kind), _rows(tmp_path / "full", kind)
        assert got.equals(want), kind
    posts = _rows(killed, "postings")
    assert posts["posting_id"].is_unique and len(posts) == len(_rows(tmp_path / "full", "postings"))
    q = _rows(killed, "quarantine")
    assert sorted(q["reason"].str.split(" \\(").str[0]) == ["duplicate id", "no id"]


def test_a_local_dask_cluster_writes_the_rows_of_one_process(postings_file, tmp_path):
    env = _env(tmp_path)
    args = ["--part-size", "16", "--threads", "1", "--quiet", "--limit", "120", *MODELS]
    one = subprocess.run(_cmd([str(postings_file), "--out", str(tmp_path / "one"), *args], env), env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(_cmd([str(postings_file), "--out", str(tmp_path / "two"), "--workers", "2", *args], env),
                         env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "120 postings extracted" in one.stderr and "120 postings extracted" in two.stderr
    for kind in ("postings", "keywords", "quarantine"):
        assert _rows(tmp_path / "two", kind).equals(_rows(tmp_path / "one", kind)), kind


@pytest.fixture()
def store_with_models(settings_env):
    """A store of 3 valid SkillSpan postings and the fixture tagger as the latest keyword model."""
    from common.data.records import PostingRecord
    from common.data.skillspan import load_skillspan
    from common.data.storage import Store
    from common.text.spans import posting_text

    try:
        posts = load_skillspan("dev")[:4]
    except FileNotFoundError as exc:
        pytest.skip(f"SkillSpan absent: {exc}")
    shutil.copytree(FIXTURE / "tagger", settings_env.models_dir / settings_env.keyword_model_name / "latest")
    with Store.open(settings_env) as store:
        store.add_postings([PostingRecord(posting_id=p.doc_id, text=posting_text(p), status="valid") for p in posts[:3]])
    return settings_env, posts


def test_the_flow_extracts_only_postings_the_current_models_have_not_done(store_with_models):
    from common.data.records import PostingRecord
    from common.data.storage import Store
    from flows.batch_extract import batch_extract

    settings, posts = store_with_models
    first = batch_extract(partition_size=2, groups=False, occupations=False, links=False)
    assert first["extracted"] == 3 and first["partitions"] == 2 and first["stored"]["postings"] == 3
    with Store.open(settings) as store:
        assert sorted(store.read("extracted_postings")["posting_id"]) == sorted(p.doc_id for p in posts[:3])
        n_kw = store.count("extracted_keywords")
        store.add_postings([PostingRecord(posting_id=posts[3].doc_id, text="python and sql", status="valid")])
    assert n_kw == first["keywords"] > 0
    second = batch_extract(partition_size=2, groups=False, occupations=False, links=False)
    assert second["extracted"] == 1 and second["models"] == first["models"]
    from common.batch import read_output

    parquet = read_output(settings.data_dir / "batch", "postings")
    assert sorted(parquet["posting_id"]) == sorted(p.doc_id for p in posts)


def test_the_flow_on_dask_stores_what_the_in_process_flow_stores(store_with_models, monkeypatch, tmp_path):
    distributed = pytest.importorskip("distributed")
    from common.core.settings import get_settings
    from common.data.storage import Store
    from flows.batch_extract import batch_extract

    settings, _ = store_with_models
    seq = batch_extract(partition_size=2, groups=False, occupations=False, links=False)
    with Store.open(settings) as store:
        want = store.read("extracted_keywords").sort_values(["posting_id", "start", "type"]).reset_index(drop=True)
        store._db.execute("DELETE FROM extracted_postings")
        store._db.execute("DELETE FROM extracted_keywords")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as c, distributed.Client(c) as client:
        client.get_task_stream()
        monkeypatch.setenv("JOBSKILLS_TASK_RUNNER", "dask")
        monkeypatch.setenv("JOBSKILLS_DASK_ADDRESS", c.scheduler_address)
        get_settings.cache_clear()
        out = batch_extract(out_dir=str(tmp_path / "dask-out"), partition_size=2, groups=False, occupations=False,
                            links=False)
        stream = client.get_task_stream()
        assert len(stream) >= 2, f"expected the partitions on Dask, the scheduler saw {len(stream)} tasks"
    assert out["extracted"] == seq["extracted"] == 3
    with Store.open(get_settings()) as store:
        got = store.read("extracted_keywords").sort_values(["posting_id", "start", "type"]).reset_index(drop=True)
    assert got.drop(columns=[]).equals(want)


def test_the_cli_from_store_extracts_and_stores_only_what_is_not_done(store_with_models, tmp_path):
    from common.data.storage import Store

    settings, posts = store_with_models
    env = {**_env(tmp_path), "JOBSKILLS_DATA_DIR": str(settings.data_dir)}
    args = ["--from-store", "--part-size", "2", "--quiet", "--no-links", "--no-groups", "--no-occupations"]
    first = subprocess.run(_cmd(args, env), env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "3 postings extracted" in first.stderr
    with Store.open(settings) as store:
        assert store.count("extracted_postings") == 3 and store.count("extracted_keywords") > 0
    again = subprocess.run(_cmd(args, env), env=env, capture_output=True, text=True, timeout=600)
    assert "0 postings extracted" in again.stderr
    both = subprocess.run(_cmd(["x.jsonl", *args], env), env=env, capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "not both" in both.stderr


def test_the_cli_ranks_posting_skills_with_a_linker_and_refuses_without_one(make_tiny_linker, tmp_path):
    """``--skills`` as a user runs it: with a linker every posting gets skills rows (rank 1.., named
    skills matching its keywords' links); without one the run stops at once with exit 2 and a sentence."""
    from common.batch import read_output

    linker = make_tiny_linker(["python", "sql", "communication", "project management"])
    src = tmp_path / "in.jsonl"
    texts = {"a": "We need python and sql.\nGood communication matters.", "b": "Project management of a team."}
    src.write_text("\n".join(json.dumps({"id": k, "text": v}) for k, v in texts.items()) + "\n")
    env = {**_env(tmp_path), "BENTOML_HOME": str(tmp_path / "empty-store")}  # no registered linker to fall back on
    base = [str(src), "--model", str(FIXTURE / "tagger"), "--no-groups", "--no-occupations", "--quiet", "--skills"]
    run = subprocess.run(_cmd([*base, "--linker", str(linker), "--out", str(tmp_path / "out")], env), env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    skills, kws = read_output(tmp_path / "out", "skills"), read_output(tmp_path / "out", "keywords")
    assert f"{len(skills)} ESCO skills" in run.stderr and len(skills) > 0
    for pid, mine in skills.groupby("posting_id"):
        assert list(mine["rank"]) == list(range(1, len(mine) + 1))
        named = set(mine.loc[~mine["implied"], "uri"])
        assert named == set(kws.loc[kws.posting_id == pid, "esco_uri"].dropna())
    refused = subprocess.run(_cmd([*base, "--out", str(tmp_path / "none")], env), env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert refused.returncode == 2 and "--skills needs an ESCO linker" in refused.stderr
    assert not (tmp_path / "none").exists()
