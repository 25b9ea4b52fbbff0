"""Admission under a real ``bentoml serve``: a burst of full batches from one client is answered
429 with ``Retry-After`` and a sentence; a burst from many clients past everyone's budget, 503 with
``Retry-After`` and a sentence (never BentoML's "unexpected error"); afterwards an ordinary posting
is answered at once. Budgets: tests/services/conftest.py (30,000 characters a client, 60,000 in all)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

FULL_BATCH = {"texts": [("Python and SQL developer with strong communication skills. " * 49)[:2900]] * 8}


def _burst(server: str, keys: list[str]) -> list[httpx.Response]:
    def post(key: str) -> httpx.Response:
        return httpx.post(f"{server}/extract_batch", json=FULL_BATCH, headers={"X-API-Key": key}, timeout=120)

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(post, keys))


def _check_refusal(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status
    assert int(r.headers["retry-after"]) >= 1
    assert words in r.json()["error"] and "unexpected" not in r.text


def test_one_client_bursting_gets_429_with_retry_after(server):
    answers = _burst(server, ["burst-client"] * 10)
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 429} and 200 in statuses and 429 in statuses, statuses
    for r in answers:
        if r.status_code == 429:
            _check_refusal(r, 429, "this client already has")


def test_many_clients_past_the_total_get_503_with_retry_after_then_service_recovers(server):
    answers = _burst(server, [f"client-{i}" for i in range(8)])
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
    for r in answers:
        if r.status_code == 503:
            _check_refusal(r, 503, "the service is at capacity")
    t0 = time.perf_counter()
    ok = httpx.post(f"{server}/extract", json={"text": "We need a Python developer with SQL"}, timeout=60)
    assert ok.status_code == 200 and time.perf_counter() - t0 < 5


def test_a_long_posting_cut_into_units_keeps_its_offsets(client, tiny_models):
    """Texts over JOBSKILLS_SERVE_UNIT_CHARS (1,000 here) are served in units; the keywords come back
    at their places in the whole text, the same as the tagger finds unit by unit."""
    from common.keywords.tagger import KeywordTagger
    from services.scheduler import split_units

    local_tagger = KeywordTagger.load(tiny_models["keywords"]["path"], device="cpu")
    text = "\n".join(f"Role {i}: we need python and sql with strong communication skills." for i in range(40))[:2900]
    r = client.post("/extract", json={"text": text})
    assert r.status_code == 200, r.text
    kws = r.json()["keywords"]
    assert kws and max(k["start"] for k in kws) > 2_000  # keywords from the last unit too
    assert all(text[k["start"]:k["end"]] == k["text"] for k in kws)
    expected = [(off + k.start, off + k.end, k.type) for off, unit in split_units(text, 1_000)
                for k in local_tagger.extract([unit])[0]]
    assert [(k["start"], k["end"], k["type"]) for k in kws] == expected
