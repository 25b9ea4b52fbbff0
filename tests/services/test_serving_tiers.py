"""The keyword tier switch under a real ``bentoml serve``: with champions of both tiers, ``auto``
serves the accurate tier and ``JOBSKILLS_SERVE_KEYWORD_TIER=fast`` (what ``jobskills serve --tier
fast`` sets) the fast one; ``/status`` and every ``/extract`` answer name the tier and its champion.

The two extra servers share a copy of the session's model store with a tiny accurate-tier tagger
promoted into it, and start side by side to keep the run short.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from procs import free_port, start_bentoml, stop_group

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TEXT = "We need a Python developer with SQL and strong communication skills."


@pytest.fixture(scope="module")
def both_tiers(serving_env, serving_root, tiny_models, tiny_bert_dir, tmp_path_factory) -> dict:
    """Two servers over one store holding both tiers' champions: ``auto`` and ``fast``."""
    root = tmp_path_factory.mktemp("tiers")
    shutil.copytree(serving_root / "bentoml", root / "bentoml")
    env = {**serving_env, "BENTOML_HOME": str(root / "bentoml"), "JOBSKILLS_DATA_DIR": str(root / "data")}
    out = root / "accurate.json"
    proc = subprocess.run([sys.executable, str(HERE / "build_tiny_models.py"), str(tiny_bert_dir), str(root / "work"),
                           str(out), "accurate"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    accurate = json.loads(out.read_text())["accurate"]
    envs = {"auto": env, "fast": {**env, "JOBSKILLS_SERVE_KEYWORD_TIER": "fast"}}
    ports = {k: free_port() for k in envs}
    with ThreadPoolExecutor(2) as pool:
        futures = {k: pool.submit(start_bentoml, e, REPO, root / f"server-{k}.log", ports[k]) for k, e in envs.items()}
        procs = {k: f.result() for k, f in futures.items()}
    try:
        yield {"accurate": accurate, "urls": {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}, "root": root}
    finally:
        for p in procs.values():
            stop_group(p)


def _status_and_extract(url: str) -> tuple[dict, dict]:
    with httpx.Client(base_url=url, timeout=60) as c:
        status = c.post("/status", json={}).json()["keywords"]
        answer = c.post("/extract", json={"text": TEXT})
        assert answer.status_code == 200, answer.text
        return status, answer.json()


def test_auto_serves_the_accurate_champion_when_there_is_one(both_tiers):
    status, answer = _status_and_extract(both_tiers["urls"]["auto"])
    assert status["tier"] == "accurate" and status["ready"]
    assert "champion" in status["tier_reason"] and both_tiers["accurate"]["tag"] in status["tier_reason"]
    assert status["model"]["tag"] == both_tiers["accurate"]["tag"] and status["model"]["tier"] == "accurate"
    assert status["model"]["floor"] == pytest.approx(0.50)  # the accurate tier's own floor
    assert answer["model"]["tier"] == "accurate" and answer["model"]["tag"] == both_tiers["accurate"]["tag"]
    log = (both_tiers["root"] / "server-auto.log").read_text()
    assert "keyword tier: accurate, because the accurate tier has a champion" in log


def test_the_fast_tier_serves_when_asked(both_tiers, tiny_models):
    status, answer = _status_and_extract(both_tiers["urls"]["fast"])
    assert status["tier"] == "fast" and "requested" in status["tier_reason"]
    assert status["model"]["tag"] == tiny_models["keywords"]["tag"] and status["model"]["floor"] == pytest.approx(0.40)
    assert answer["model"]["tier"] == "fast" and answer["model"]["tag"] == tiny_models["keywords"]["tag"]


def test_auto_falls_back_to_the_fast_tier_and_says_why(client, tiny_models):
    """The session server's store has no accurate champion."""
    status = client.post("/status", json={}).json()["keywords"]
    assert status["tier"] == "fast" and status["model"]["tag"] == tiny_models["keywords"]["tag"]
    assert "no accurate-tier champion" in status["tier_reason"] and "jobskills encoders install mpnet" in status["tier_reason"]
