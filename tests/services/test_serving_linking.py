"""ESCO linking through the running API: /link, the ``esco`` of every keyword, /match on ESCO
skills, /status. The tiny linker indexes the tiny group taxonomy (build_tiny_models.tiny_taxonomy)."""

from __future__ import annotations

import pytest

from common.data.request_log import iter_jsonl

POSTING = ("We are looking for a data engineer with experience in python and sql.\n"
           "Strong communication skills and project management knowledge are a plus.")


@pytest.fixture(scope="session")
def local_linker(tiny_models):
    from common.linking.linker import ESCOLinker

    return ESCOLinker.load(tiny_models["linker"]["path"])


def test_status_reports_the_linker(client, tiny_models):
    info = client.post("/status", json={}).json()["groups"]["linker"]
    assert info["ready"] and info["tag"] == tiny_models["linker"]["tag"]
    assert info["threshold"] == pytest.approx(tiny_models["linker"]["threshold"])
    assert info["model"]["metric"] == "r_at_1"


def test_link_returns_candidates_and_the_link_like_the_linker(client, local_linker, tiny_models, data_dir):
    skills = ["python programming", "SQL", "zzqx wvvy"]
    r = client.post("/link", json={"skills": skills, "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["taxonomy"] == local_linker.taxonomy.version and body["model_tag"] == tiny_models["linker"]["tag"]
    local = local_linker.link(skills, top_k=3)
    assert [x["skill"] for x in body["results"]] == skills
    for res, exp in zip(body["results"], local):
        assert 1 <= len(res["matches"]) <= 3
        assert [m["uri"] for m in res["matches"]] == [m.uri for m in exp.matches]
        scores = [m["score"] for m in res["matches"]]
        assert scores == sorted(scores, reverse=True)
        assert (res["linked"] or {}).get("uri") == (exp.linked.uri if exp.linked else None)
    python = local_linker.uris[local_linker.labels.index("python")]
    assert body["results"][0]["linked"]["uri"] == python  # an alternative label links to its skill
    assert body["results"][2]["linked"] is None  # nothing close: abstains, candidates still shown
    logged = [rec for rec in iter_jsonl(data_dir / "logs", "requests") if rec["endpoint"] == "link"]
    assert logged and logged[-1]["input"]["skills"] == skills


def test_link_with_context(client, local_linker):
    body = {"skills": ["sql", "python"], "context": ["we query sql every day", None], "top_k": 2}
    r = client.post("/link", json=body)
    assert r.status_code == 200, r.text
    local = local_linker.link(body["skills"], body["context"], top_k=2)
    assert [x["matches"][0]["uri"] for x in r.json()["results"]] == [x.matches[0].uri for x in local]


def test_every_keyword_carries_its_esco_link(client, local_linker):
    for endpoint, body, pick in [("/extract", {"text": POSTING}, lambda b: b["keywords"]),
                                 ("/extract_batch", {"texts": [POSTING]}, lambda b: b["results"][0]),
                                 ("/analyze", {"text": POSTING}, lambda b: b["keywords"])]:
        r = client.post(endpoint, json=body)
        assert r.status_code == 200, r.text
        kws = pick(r.json())
        assert kws, f"{endpoint}: the tiny tagger found no keywords: the check would be vacuous"
        local = local_linker.link([" ".join(k["text"].split()) for k in kws], top_k=1)
        for k, exp in zip(kws, local):
            assert "esco" in k
            assert (k["esco"] or {}).get("uri") == (exp.linked.uri if exp.linked else None), (endpoint, k)
        if endpoint == "/analyze":
            assert all(k["group_source"] in ("taxonomy", "classifier") for k in kws)
            for k in kws:
                if k["group_source"] == "taxonomy":
                    assert [g["code"] for g in k["groups"]] == local_linker.groups_of(k["esco"]["uri"], 2)


def test_match_compares_on_esco_skills_too(client):
    body = client.post("/match", json={"resume_skills": ["python", "sql"],
                                       "job_skills": ["python", "project management", "zzqx wvvy"]}).json()
    esco = body["esco"]
    assert [m["label"] for m in esco["shared"]] == ["python"]
    assert [m["label"] for m in esco["missing"]] == ["project management"]
    assert esco["unlinked_job_skills"] == ["zzqx wvvy"]
    assert esco["score"] == pytest.approx(0.5)


def test_with_skills_false_leaves_out_the_skills_and_keeps_the_links(client):
    """A caller that wants keywords and their links only skips the sentence retrieval: skills is
    null, every keyword keeps the esco link of the full answer, and the occupations stay."""
    for endpoint, body, pick in [("/extract", {"text": POSTING}, lambda b: (b["keywords"], b["skills"])),
                                 ("/extract_batch", {"texts": [POSTING, "zzqx"]}, lambda b: (b["results"][0], b["skills"])),
                                 ("/analyze", {"text": POSTING}, lambda b: (b["keywords"], b["skills"]))]:
        full = client.post(endpoint, json=body)
        lean = client.post(endpoint, json={**body, "with_skills": False})
        assert full.status_code == 200 and lean.status_code == 200, (full.text, lean.text)
        (kw_full, sk_full), (kw_lean, sk_lean) = pick(full.json()), pick(lean.json())
        assert sk_full and sk_lean is None, endpoint
        assert any(k["esco"] for k in kw_lean), f"{endpoint}: no keyword linked, the comparison would prove little"
        assert [(k["text"], k["esco"]) for k in kw_lean] == [(k["text"], k["esco"]) for k in kw_full], endpoint
        assert lean.json()["occupations"] == full.json()["occupations"], endpoint
    r = client.post("/extract", json={"text": POSTING, "with_skills": "sometimes"})
    assert r.status_code == 400 and "with_skills" in r.text


def test_every_posting_answer_lists_its_esco_skills_like_the_library(client, local_linker):
    """/extract, /extract_batch and /analyze give the posting's ESCO skills: what
    ``common.linking.skills.posting_skills`` ranks from the same text and keywords."""
    from common.core.types import Keyword
    from common.linking.skills import posting_skills

    assert local_linker.retriever is not None  # the served linker ranks sentences with its trained retriever
    for endpoint, body, pick in [("/extract", {"text": POSTING}, lambda b: (b["keywords"], b["skills"])),
                                 ("/extract_batch", {"texts": [POSTING, "zzqx"]},
                                  lambda b: (b["results"][0], b["skills"][0])),
                                 ("/analyze", {"text": POSTING}, lambda b: (b["keywords"], b["skills"]))]:
        r = client.post(endpoint, json=body)
        assert r.status_code == 200, r.text
        kws, skills = pick(r.json())
        assert skills, f"{endpoint}: no ESCO skills for a posting with linked keywords"
        local = posting_skills(local_linker, POSTING, [Keyword(**{f: k[f] for f in Keyword.model_fields}) for k in kws])
        assert [(s["uri"], s["implied"]) for s in skills] == [(s.uri, s.implied) for s in local], endpoint
        for s in skills:
            assert s["evidence"] and all(POSTING[e["start"]:e["end"]] == e["text"] for e in s["evidence"])
            assert all(e["kind"] == ("sentence" if s["implied"] else "keyword") for e in s["evidence"])
        named = {k["esco"]["uri"] for k in kws if k["esco"]}
        assert named == {s["uri"] for s in skills if not s["implied"]}, endpoint  # a linked keyword names its skill
    for endpoint, body in [("/extract", {"text": "   "}), ("/analyze", {"text": "x " * 5_000}),
                           ("/extract_batch", {"texts": [POSTING, ""]})]:
        r = client.post(endpoint, json=body)
        assert r.status_code == 400 and ("text is empty" in r.text or "the limit is" in r.text), (endpoint, r.text)
