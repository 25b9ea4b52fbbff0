"""Bad input gets a 4xx with a message, never a 500 (the server runs with small limits:
3000 characters per text, 8 items per batch, 64 KiB per body; see conftest.LIMITS)."""

from __future__ import annotations

import json

import pytest

JSON = {"Content-Type": "application/json"}

CASES = [
    # (endpoint, raw body, headers, expected status, words expected in the message)
    ("/extract", json.dumps({"text": ""}), JSON, 400, "text is empty"),
    ("/extract", json.dumps({"text": " \n\t "}), JSON, 400, "text is empty"),
    ("/extract", json.dumps({"text": "x" * 3001}), JSON, 400, "limit is 3000"),
    ("/extract", json.dumps({"text": 5}), JSON, 400, "valid string"),
    ("/extract", json.dumps({"text": ["a"]}), JSON, 400, "valid string"),
    ("/extract", json.dumps({"text": None}), JSON, 400, "valid string"),
    ("/extract", json.dumps({}), JSON, 400, "Field required"),
    ("/extract", json.dumps({"txt": "Python"}), JSON, 400, "Extra inputs"),
    ("/extract", json.dumps(["Python"]), JSON, 400, "object"),
    ("/extract", '{"text": "Python"', JSON, 400, "not valid JSON"),
    ("/extract", "text=Python", JSON, 400, "not valid JSON"),
    ("/extract", b'{"text": "caf\xe9 \xff"}', JSON, 400, "not valid UTF-8"),
    ("/extract", '{"text": "lone \\udcff surrogate"}', JSON, 400, "surrogate"),
    ("/extract", json.dumps({"text": "Python"}), {"Content-Type": "text/csv"}, 415, "JSON"),
    ("/extract", json.dumps({"text": "Python"}), {"Content-Type": "application/vnd.bentoml+pickle"}, 415, "JSON"),
    ("/extract", json.dumps({"text": "y" * 70_000}), JSON, 413, "limit"),
    ("/extract_batch", json.dumps({"texts": ["a b"] * 9}), JSON, 400, "limit is 8"),
    ("/extract_batch", json.dumps({"texts": []}), JSON, 400, "empty"),
    ("/extract_batch", json.dumps({"texts": "Python"}), JSON, 400, "valid array"),
    ("/extract_batch", json.dumps({"texts": ["ok", ""]}), JSON, 400, "text is empty"),
    ("/classify", json.dumps({"skills": ["python"] * 9}), JSON, 400, "limit is 8"),
    ("/classify", json.dumps({"skills": ["python"], "level": 3}), JSON, 400, "level"),
    ("/classify", json.dumps({"skills": ["python"], "top_k": 0}), JSON, 400, "top_k"),
    ("/classify", json.dumps({"skills": ["python"], "top_k": "many"}), JSON, 400, "top_k"),
    ("/classify", json.dumps({"skills": [""]}), JSON, 400, "skill is empty"),
    ("/classify", json.dumps({"skills": ["z" * 201]}), JSON, 400, "limit is 200"),
    ("/classify", json.dumps({"skills": [1, 2]}), JSON, 400, "valid string"),
    ("/link", json.dumps({"skills": []}), JSON, 400, "the list is empty"),
    ("/link", json.dumps({"skills": ["python"] * 9}), JSON, 400, "limit is 8"),
    ("/link", json.dumps({"skills": ["python", "sql"], "context": ["one sentence"]}), JSON, 400,
     "one sentence per skill"),
    ("/link", json.dumps({"skills": ["z" * 201]}), JSON, 400, "limit is 200"),
    ("/link", json.dumps({"skills": ["python"], "context": ["c" * 2001]}), JSON, 400, "limit is 2000"),
    ("/link", json.dumps({"skills": ["python"], "top_k": 21}), JSON, 400, "top_k"),
    ("/link", json.dumps({"skills": [""]}), JSON, 400, "skill is empty"),
    ("/link", json.dumps({"skill": ["python"]}), JSON, 400, "Extra inputs"),
    ("/analyze", json.dumps({"text": "Python", "level": "fine"}), JSON, 400, "level"),
    ("/match", json.dumps({"resume": "", "job": "Python"}), JSON, 400, "text is empty"),
    ("/topics", json.dumps({"text": ""}), JSON, 400, "text is empty"),
    ("/feedback", json.dumps({"text": "Python", "keywords": "Python"}), JSON, 400, "valid array"),
]


@pytest.mark.parametrize("endpoint,body,headers,status,words", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_4xx_with_a_message(client, endpoint, body, headers, status, words):
    content = body if isinstance(body, bytes) else body.encode("utf-8")
    r = client.post(endpoint, content=content, headers={**headers, "X-API-Key": "test-key-123"})
    assert r.status_code == status, r.text
    assert words.lower() in r.text.lower(), r.text
    data = r.json()
    assert isinstance(data, dict) and data.get("error"), data


def test_wrong_method_and_unknown_path(client):
    assert client.get("/extract").status_code == 405
    assert client.post("/nope", json={}).status_code == 404


def test_server_survives_the_bad_inputs(client):
    """After all of the above, the server still answers (no crashed worker)."""
    assert client.post("/extract", json={"text": "Python and SQL"}).status_code == 200
    assert client.get("/readyz").status_code == 200
