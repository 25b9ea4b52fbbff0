"""Every endpoint of the running API, against the tiny champion models loaded in-process."""

from __future__ import annotations

import shutil

import pytest

from common.data.request_log import iter_jsonl
from common.core.types import KEYWORD_TYPES

API_KEY = "test-key-123"  # tests/services/conftest.py gives the server this key

POSTING = (
    "We are looking for a data engineer with experience in Python and SQL.\n"
    "You will design cloud data pipelines and work with our software team.\n"
    "Strong communication skills and project management knowledge are a plus."
)
RESUME = "Software developer: Java, Python, testing and cloud design. Good communication."


@pytest.fixture(scope="session")
def local_tagger(tiny_models):
    from common.keywords.tagger import KeywordTagger

    return KeywordTagger.load(tiny_models["keywords"]["path"], device="cpu")


@pytest.fixture(scope="session")
def local_groups(tiny_models):
    from common.groups.model import GroupModel

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
    assert s["api_key_required"] is True and s["admin"] == "enabled"
    assert s["max_text_chars"] == 3000 and s["max_batch_items"] == 8


def test_status_says_which_model_answers(client, tiny_models):
    """/status, /extract and /classify name the model (tag, tier) and its dev score from the registry."""
    s = client.post("/status", json={}).json()
    kw, grp = s["keywords"]["model"], s["groups"]["model"]
    assert kw["tag"] == tiny_models["keywords"]["tag"] and kw["tier"] == "fast"
    # the tagger was exported at training: on CPU it serves its int8 ONNX encoder; the group model
    # (export opt-in) serves torch
    assert s["keywords"]["backend"] == "onnx-int8" and s["groups"]["backend"] == "torch"
    assert kw["metric"] == "span.overall.f1" and kw["score"] == pytest.approx(tiny_models["keywords"]["f1"])
    assert kw["floor"] == pytest.approx(0.40)
    assert kw["quality"] == ("below_floor" if kw["score"] < kw["floor"] else "ok")
    assert grp["tag"] == tiny_models["groups"]["tag"] and grp["metric"] == "l2.micro_f1"
    assert grp["score"] is not None and grp["tier"] is None
    ext = client.post("/extract", json={"text": POSTING}).json()
    assert ext["model"] == kw
    cls = client.post("/classify", json={"skills": ["python"]}).json()
    assert cls["model"] == grp


def test_a_champion_below_the_floor_is_flagged(client, tiny_models, serving_env, monkeypatch):
    """Roll back to the 1-step tagger (what a user does after a bad promotion) and reload: the
    service still answers, and /status and /extract flag the model as below the quality floor."""
    from common import registry

    monkeypatch.setenv("BENTOML_HOME", serving_env["BENTOML_HOME"])
    key = {"X-API-Key": API_KEY}
    try:
        assert registry.rollback("keyword-tagger").tag == tiny_models["keywords"]["weak_tag"]
        assert client.post("/reload", headers=key).status_code == 200
        kw = client.post("/status", json={}).json()["keywords"]["model"]
        assert kw["tag"] == tiny_models["keywords"]["weak_tag"]
        assert kw["score"] == pytest.approx(tiny_models["keywords"]["weak_f1"]) and kw["score"] < kw["floor"]
        assert kw["quality"] == "below_floor" and "below the quality floor" in kw["warning"]
        ext = client.post("/extract", json={"text": POSTING})
        assert ext.status_code == 200 and ext.json()["model"]["quality"] == "below_floor"
    finally:
        registry.promote(tiny_models["keywords"]["tag"])
        assert client.post("/reload", headers=key).status_code == 200
    assert client.post("/status", json={}).json()["keywords"]["tag"] == tiny_models["keywords"]["tag"]


def test_control_characters_never_reach_a_keyword(client, local_tagger):
    """NUL, CR, form feed and DEL are blanked before tagging; offsets still index the sent text."""
    clean = "We need Python and SQL experience with cloud data design."
    dirty = clean.replace(" and", "\x00 and").replace(" experience", "\r experience").replace(
        "cloud", "\x0ccloud\x7f")
    body = client.post("/extract", json={"text": dirty}).json()
    assert body["keywords"], "no keywords: the control-character check would be vacuous"
    _check_keywords(dirty, body["keywords"])
    for k in body["keywords"]:
        assert not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in k["text"]), k
    py = [k for k in body["keywords"] if k["text"].startswith("Python")]
    assert py and py[0]["text"] == "Python"
    # the same words without the control characters give the same keyword texts
    ref = client.post("/extract", json={"text": clean}).json()["keywords"]
    assert sorted(k["text"] for k in body["keywords"]) == sorted(k["text"] for k in ref)


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


@pytest.fixture(scope="session")
def local_linker(tiny_models):
    from common.linking.linker import ESCOLinker

    return ESCOLinker.load(tiny_models["linker"]["path"])


@pytest.mark.parametrize("level,top_k", [(1, 2), (2, 3)])
def test_classify_ranks_groups_like_the_model(client, local_groups, local_linker, tiny_models, level, top_k):
    """Phrases the linker links to a skill with known groups take the taxonomy's groups; the
    others get the group model's decision and ranking, exactly as the model gives them."""
    from common.linking.groups import linked_groups

    skills = ["python programming", "team communication", "project management", "zzqx wvvy"]
    r = client.post("/classify", json={"skills": skills, "level": level, "top_k": top_k})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_tag"] == tiny_models["groups"]["tag"]
    assert [x["skill"] for x in body["results"]] == skills
    local = linked_groups(skills, local_linker, local_groups, level=level, top_k=top_k)
    assert [x["source"] for x in body["results"]] == [x.source for x in local]
    assert {"taxonomy", "classifier"} <= {x.source for x in local}, "both sources must be exercised"
    for res, exp in zip(body["results"], local):
        assert [g["code"] for g in res["groups"]] == [g.code for g in exp.decision.groups]
        assert [g["code"] for g in res["ranked"]] == [g.code for g in exp.decision.ranked]
        if exp.source == "taxonomy":
            assert res["esco"]["uri"] == exp.esco.uri
            assert [g["code"] for g in res["groups"]] == local_linker.groups_of(exp.esco.uri, level)
    rows = [i for i, x in enumerate(local) if x.source == "classifier"]
    classified = [skills[i] for i in rows]
    expected = local_groups.predict(classified, level=level, top_k=top_k)
    decided = local_groups.assign(classified, level=level)
    for res, exp, dec in zip([body["results"][i] for i in rows], expected, decided):
        ranked = res["ranked"]
        assert 1 <= len(ranked) <= top_k
        assert all(g["level"] == level for g in ranked)
        scores = [g["score"] for g in ranked]
        assert scores == sorted(scores, reverse=True)
        assert [g["code"] for g in ranked] == [g.code for g in exp]
        # the decision is the model's threshold rule (what classify-skill and match use), not the top_k
        assert res["threshold"] == pytest.approx(local_groups.threshold(level))
        assert [g["code"] for g in res["groups"]] == [g.code for g in dec]
        assert all(g["score"] >= res["threshold"] for g in res["groups"][1:])
        assert [g["decided"] for g in ranked] == [g["code"] in {d.code for d in dec} for g in ranked]


def test_classify_decision_differs_from_the_ranking(client, local_groups):
    """With top_k=4 (every level-2 group of the tiny taxonomy) the ranking has extras the model
    did not decide; the decision holds only groups at or above the threshold (or the best one)."""
    skills = ["python programming", "manage sql data", "team communication"]
    body = client.post("/classify", json={"skills": skills, "level": 2, "top_k": 4}).json()
    extras = [g for res in body["results"] for g in res["ranked"] if not g["decided"]]
    assert extras, "every ranked group was decided: the decision and the ranking are not told apart"
    for res in body["results"]:
        if res["source"] == "taxonomy":  # the taxonomy decides; the classifier's ranking follows it
            assert all(g["decided"] for g in res["ranked"][: len(res["groups"])])
            continue
        assert len(res["groups"]) < 4 or all(g["decided"] for g in res["ranked"])
        assert all(g["score"] < res["threshold"] for g in res["ranked"] if not g["decided"])


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
        assert 1 <= len(k["ranked"]) <= 2 and len(k["groups"]) >= 1
        assert all(g["level"] == 2 for g in k["groups"] + k["ranked"])
        # the decision comes first in the ranking and is marked there
        decided = {g["code"] for g in k["groups"]}
        assert {g["code"] for g in k["ranked"] if g["decided"]} == decided & {g["code"] for g in k["ranked"]}
    assert body["keyword_model"]["tag"] == body["keyword_model_tag"]
    assert body["group_model"]["tag"] == body["group_model_tag"]


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
    assert 'jobskills_requests_total{endpoint="extract",outcome="ok",transport="http"}' in m.text
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


def test_the_cli_match_and_the_api_match_give_one_answer(client, tiny_models, serving_env, tmp_path):
    """`jobskills groups match --json` and `/match` call the same library function on the same models."""
    import json
    import subprocess
    import sys

    resume, job = ["python", "java", "team communication"], ["python", "sql", "project management", "zxq qqz"]
    (tmp_path / "resume.txt").write_text("\n".join(resume))
    (tmp_path / "job.txt").write_text("\n".join(job))
    proc = subprocess.run(
        [sys.executable, "-c", "from jobskills.cli.main import app; app()", "groups", "match", "--json",
         "--resume", str(tmp_path / "resume.txt"), "--job", str(tmp_path / "job.txt")],
        env=serving_env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli = json.loads(proc.stdout)
    api = client.post("/match", json={"resume_skills": resume, "job_skills": job}).json()
    assert api["esco"] is not None and cli["esco"] is not None  # both found the champion linker
    assert api["occupation"] is not None and cli["occupation"] is not None  # and the champion occupation model
    for key in ("score", "level", "groups", "missing", "exact_overlap", "esco", "occupation"):
        assert cli[key] == pytest.approx(api[key]) if key == "score" else cli[key] == api[key], key
