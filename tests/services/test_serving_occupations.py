"""Occupations through the running API: /occupations, the ``occupations`` and ``importance``
fields of /extract, /extract_batch and /analyze, /status, and bad input. The tiny occupation model
ranks the tiny occupations of ``build_tiny_models.TINY_OCCUPATIONS`` over the tiny taxonomy."""

from __future__ import annotations

import pytest

POSTING = "data engineer\nWe need sql and data skills, sql data and cloud data."


@pytest.fixture(scope="session")
def local_model(tiny_models):
    from common.occupations.model import OccupationModel

    return OccupationModel.load(tiny_models["occupations"]["path"])


def test_status_reports_the_occupation_model(client, tiny_models):
    info = client.post("/status", json={}).json()["groups"]["occupations"]
    assert info["ready"] and info["tag"] == tiny_models["occupations"]["tag"]
    assert info["model"]["metric"] == "dev_title.ranker.r_at_1"


def test_occupations_ranks_like_the_library(client, local_model, tiny_models):
    r = client.post("/occupations", json={"text": POSTING, "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "data engineer" and body["model_tag"] == tiny_models["occupations"]["tag"]
    assert len(body["occupations"]) == 3
    scores = [o["score"] for o in body["occupations"]]
    assert scores == sorted(scores, reverse=True)
    top = body["occupations"][0]
    assert {"uri", "label", "isco", "score", "essential", "optional"} <= set(top)
    # the same answer as the library given the same keywords' skills
    kws = body["keywords"]
    uris = local_model.keyword_skills([k["text"] for k in kws], [(k["esco"] or {}).get("uri") for k in kws])
    (local,) = local_model.analyze([POSTING], [[u for u in uris if u]], top_k=3)
    assert [o["uri"] for o in body["occupations"]] == [o.uri for o in local.occupations]
    for k, u in zip(kws, uris, strict=True):
        assert k["importance"] == (local.importance.get(u) if u else None)


def test_a_given_title_wins_over_the_first_line(client):
    body = client.post("/occupations", json={"text": POSTING, "title": "project manager"}).json()
    assert body["title"] == "project manager"


def test_extract_and_analyze_carry_occupations_and_importance(client):
    ex = client.post("/extract", json={"text": POSTING}).json()
    assert ex["occupations"] and len(ex["occupations"]) <= 3
    assert all("importance" in k for k in ex["keywords"])
    assert all(k["importance"] in ("essential", "optional", "other", None) for k in ex["keywords"])
    an = client.post("/analyze", json={"text": POSTING}).json()
    assert [o["uri"] for o in an["occupations"]] == [o["uri"] for o in ex["occupations"]]
    batch = client.post("/extract_batch", json={"texts": [POSTING, "project manager\nproject management"]}).json()
    assert len(batch["occupations"]) == 2 and batch["occupations"][0][0]["uri"] == ex["occupations"][0]["uri"]


@pytest.mark.parametrize("body, says", [
    ({"text": "   "}, "text is empty"),
    ({"text": "x", "title": "t" * 201}, "200"),
    ({"text": "x", "title": "  "}, "title is blank"),
    ({"text": "x", "top_k": 0}, "top_k"),
    ({"text": "x", "titel": "nurse"}, "titel"),
])
def test_bad_input_is_a_400_with_a_sentence(client, body, says):
    r = client.post("/occupations", json=body)
    assert r.status_code == 400, r.text
    assert says in r.text


def test_match_reports_the_jobs_essential_skills_first(client):
    """The job is a data engineer's (tiny occupations): its essential skills come first, missing first."""
    job = ["sql", "data", "sql data", "manage sql data", "python"]
    body = client.post("/match", json={"resume_skills": ["sql", "data"], "job_skills": job}).json()
    assert next(iter(body)) == "occupation"  # first in the answer
    occ = body["occupation"]
    assert occ["occupation"]["label"] == "data engineer"
    assert [r["label"] for r in occ["essential"]] == ["sql data", "manage sql data", "sql", "data"]
    assert [r["on_resume"] for r in occ["essential"]] == [False, False, True, True]
    assert occ["score"] == pytest.approx(0.5)
    assert [(r["label"], r["importance"]) for r in occ["rest"]] == [("python", "optional")]


def _cli(args: list[str], env: dict[str, str]):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from jobskills.cli.main import app; app()", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_cli_and_the_api_name_the_same_occupations(client, serving_env):
    """`jobskills occupations --json` and `/occupations` run the same models and library call."""
    import json

    proc = _cli(["occupations", POSTING, "--json", "--top-k", "3"], serving_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli = json.loads(proc.stdout)
    api = client.post("/occupations", json={"text": POSTING, "top_k": 3}).json()
    assert cli["title"] == api["title"] == "data engineer"
    assert [o["uri"] for o in cli["occupations"]] == [o["uri"] for o in api["occupations"]]
    assert [(k["text"], k["importance"]) for k in cli["keywords"]] == [(k["text"], k["importance"]) for k in api["keywords"]]
    assert "dev_title.ranker.r_at_1" in proc.stderr  # which model answered, with its dev score


@pytest.mark.parametrize("args, says", [
    (["occupations", "  "], "the text is empty"),
    (["occupations", "x", "--title", "t" * 201], "the limit is 200"),
    (["occupations", "x", "--model", "/nonexistent"], "jobskills esco build-occupations"),
])
def test_the_cli_refuses_bad_input_with_a_sentence(serving_env, args, says):
    proc = _cli(args, serving_env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in " ".join(proc.stderr.split())
