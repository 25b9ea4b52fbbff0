"""Every endpoint of the running API, against the tiny champion models loaded in-process."""

from __future__ import annotations

import shutil

import pytest

from common.request_log import iter_jsonl
from common.types import KEYWORD_TYPES

API_KEY = "test-key-123"  # tests/services/conftest.py gives the server this key

POSTING = (
    "We are looking for a data engineer with experience in Python and SQL.\n"
    "You will design cloud data pipelines and work with our software team.\n"
    "Strong communication skills and project management knowledge are a plus."
)
RESUME = "Software developer: Java, Python, testing and cloud design. Good communication."


@pytest.fixture(scope="session")
def local_tagger(tiny_models):
    from common.tagger import KeywordTagger

    return KeywordTagger.load(tiny_models["keywords"]["path"], device="cpu")


@pytest.fixture(scope="session")
def local_groups(tiny_models):
    from common.groups import GroupModel

    return GroupModel.load(tiny_models["groups"]["path"])


def _check_keywords(text: str, keywords: list[dict]) -> None:
    for k in keywords:
        assert 0 <= k["start"] < k["end"] <= len(text)
        assert text[k["start"] : k["end"]] == k["text"]
        assert k["type"] in KEYWORD_TYPES
        assert 0.0 <= k["score"] <= 1.0


def test_health_ready_and_status(client, tiny_models):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    s = client.post("/status", json={}).json()
    assert s["keywords"]["ready"] and s["groups"]["ready"]
    assert s["keywords"]["tag"] == tiny_models["keywords"]["tag"]
    assert s["groups"]["tag"] == tiny_models["groups"]["tag"]
    assert s["api_key_required"] is True
    assert s["max_text_chars"] == 3000 and s["max_batch_items"] == 8


def test_extract_serves_the_champion(client, local_tagger, tiny_models, data_dir):
    r = client.post("/extract", json={"text": POSTING})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_tag"] == tiny_models["keywords"]["tag"]
    _check_keywords(POSTING, body["keywords"])
    expected = [k.model_dump() for k in local_tagger.extract([POSTING])[0]]
    assert [(k["start"], k["end"], k["type"]) for k in body["keywords"]] == [
        (k["start"], k["end"], k["type"]) for k in expected]
    assert [k["score"] for k in body["keywords"]] == pytest.approx([k["score"] for k in expected], abs=1e-4)
    # the request and its prediction are logged for drift monitoring
    logged = [rec for rec in iter_jsonl(data_dir / "logs", "requests") if rec["endpoint"] == "extract"
              and rec["input"]["text"] == POSTING]
    assert logged, "no request log record for /extract"
    assert logged[-1]["model_tag"] == tiny_models["keywords"]["tag"]
    assert logged[-1]["output"]["keywords"] == body["keywords"]
    assert logged[-1]["latency_ms"] > 0


def test_extract_batch_matches_single_requests(client):
    texts = [POSTING, RESUME, "Python"]
    r = client.post("/extract_batch", json={"texts": texts})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(texts)
    for text, kws in zip(texts, results):
        _check_keywords(text, kws)
        single = client.post("/extract", json={"text": text}).json()["keywords"]
        assert [(k["start"], k["end"], k["type"]) for k in kws] == [(k["start"], k["end"], k["type"]) for k in single]


@pytest.mark.parametrize("level,top_k", [(1, 2), (2, 3)])
def test_classify_ranks_groups_like_the_model(client, local_groups, tiny_models, level, top_k):
    skills = ["python programming", "team communication", "project management"]
    r = client.post("/classify", json={"skills": skills, "level": level, "top_k": top_k})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_tag"] == tiny_models["groups"]["tag"]
    assert [x["skill"] for x in body["results"]] == skills
    expected = local_groups.predict(skills, level=level, top_k=top_k)
    for res, exp in zip(body["results"], expected):
        groups = res["groups"]
        assert 1 <= len(groups) <= top_k
        assert all(g["level"] == level for g in groups)
        scores = [g["score"] for g in groups]
        assert scores == sorted(scores, reverse=True)
        assert [g["code"] for g in groups] == [g.code for g in exp]


def test_analyze_gives_keywords_with_groups(client):
    r = client.post("/analyze", json={"text": POSTING, "level": 2, "top_k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["keyword_model_tag"] and body["group_model_tag"]
    _check_keywords(POSTING, body["keywords"])
    extracted = client.post("/extract", json={"text": POSTING}).json()["keywords"]
    assert [(k["start"], k["end"]) for k in body["keywords"]] == [(k["start"], k["end"]) for k in extracted]
    assert body["keywords"], "the tiny tagger found no keywords: the page test would be vacuous"
    for k in body["keywords"]:
        assert 1 <= len(k["groups"]) <= 2
        assert all(g["level"] == 2 for g in k["groups"])


def test_match_with_texts_and_with_skill_lists(client):
    r = client.post("/match", json={"resume": RESUME, "job": POSTING})
    assert r.status_code == 200, r.text
    body = r.json()
    assert 0.0 <= body["score"] <= 1.0 and body["level"] == 2
    assert body["resume_skills"] and body["job_skills"]
    covered = {g["code"] for g in body["groups"]} | {g["code"] for g in body["missing"]}
    assert all(g["job_skills"] for g in body["groups"] + body["missing"]) and len(covered) == len(
        body["groups"]) + len(body["missing"])
    same = client.post("/match", json={"resume_skills": ["python", "sql"], "job_skills": ["python", "sql"]}).json()
    other = client.post("/match", json={"resume_skills": ["python"], "job_skills": ["team communication"]}).json()
    assert 0.0 <= other["score"] <= same["score"] <= 1.0
    assert same["score"] > 0


def test_match_needs_one_form_per_side(client):
    for bad in ({"resume": RESUME}, {"resume": RESUME, "resume_skills": ["x"], "job": POSTING}, {}):
        r = client.post("/match", json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert "exactly one" in r.text or "Field required" in r.text or "resume" in r.text


def test_feedback_needs_the_api_key_and_is_stored(client, data_dir):
    i = POSTING.index("Python")
    fb = {"text": POSTING, "keywords": [{"start": i, "end": i + 6, "type": "Knowledge", "text": "Python"}],
          "annotator": "pytest", "note": "python is knowledge"}
    assert client.post("/feedback", json=fb).status_code == 401
    assert client.post("/feedback", json=fb, headers={"X-API-Key": "wrong"}).status_code == 401
    r = client.post("/feedback", json=fb, headers={"X-API-Key": API_KEY})
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 1}
    recs = [x for x in iter_jsonl(data_dir / "feedback", "feedback") if x.get("annotator") == "pytest"]
    assert recs and recs[-1]["text"] == POSTING
    assert recs[-1]["keywords"][0]["text"] == "Python" and recs[-1]["keywords"][0]["type"] == "Knowledge"


@pytest.mark.parametrize("kw", [
    {"start": 0, "end": 10_000, "type": "Skill"},                 # outside the text
    {"start": 0, "end": 2, "type": "Skill", "text": "Java"},      # text differs ("We")
    {"start": 5, "end": 3, "type": "Skill"},                      # empty span
    {"start": 0, "end": 2, "type": "Tool"},                       # unknown type
])
def test_feedback_rejects_bad_spans(client, kw):
    r = client.post("/feedback", json={"text": POSTING, "keywords": [kw]}, headers={"X-API-Key": API_KEY})
    assert r.status_code == 400, r.text


def test_reload_is_an_admin_action(client, tiny_models):
    assert client.post("/reload", json={}).status_code == 401
    r = client.post("/reload", json={}, headers={"X-API-Key": API_KEY})
    assert r.status_code == 200, r.text
    assert r.json()["keywords"]["tag"] == tiny_models["keywords"]["tag"]
    assert r.json()["groups"]["ready"] is True
    assert client.post("/extract", json={"text": "Python"}).status_code == 200


def test_topics_without_a_topic_model_is_a_clear_503(client):
    r = client.post("/topics", json={"text": POSTING})
    assert r.status_code == 503
    assert "no topic model" in r.json()["error"]


@pytest.mark.slow
def test_topics_served_once_a_model_is_published(client, tiny_topic_model, data_dir):
    # publish the tiny topic model where the service looks by default; no restart needed
    shutil.copytree(tiny_topic_model, data_dir / "models" / "topics" / "latest")
    r = client.post("/topics", json={"text": POSTING})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["topics"] and all(t["words"] and -1.0 <= t["score"] <= 1.0 for t in body["topics"])
    scores = [t["score"] for t in body["topics"]]
    assert scores == sorted(scores, reverse=True)
    assert 1 <= len(body["summary"]) <= 3 and all(s.strip() in POSTING for s in body["summary"])
    _check_keywords(POSTING, body["keywords"])


def test_metrics_and_openapi(client):
    client.post("/extract", json={"text": "Python and SQL"})
    m = client.get("/metrics")
    assert m.status_code == 200
    assert 'jobskills_requests_total{endpoint="extract",outcome="ok"}' in m.text
    assert "bentoml_service_request_duration_seconds" in m.text
    spec = client.get("/docs.json").json()
    for path in ("/extract", "/extract_batch", "/classify", "/analyze", "/match", "/topics", "/feedback", "/healthz",
                 "/readyz", "/metrics"):
        assert path in spec["paths"], path
    assert "text" in spec["paths"]["/extract"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]


def test_web_page_is_served(client):
    r = client.get("/ui/")
    assert r.status_code == 200 and 'id="posting"' in r.text
    assert client.get("/ui/app.js").status_code == 200
    assert client.get("/ui/style.css").status_code == 200
