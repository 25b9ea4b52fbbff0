"""One real ``bentoml serve`` per test session, with tiny models promoted in a temporary store.

The tiny tagger and group model are trained from the ``tiny_bert_dir`` encoder by the other
areas' own APIs and registered with ``common.registry`` in a subprocess (so that BENTOML_HOME
points at the temporary store before BentoML reads it); the server then loads them as
registry champions, the way production does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from procs import free_port, start_bentoml, stop_group

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
API_KEY = "test-key-123"
LIMITS = {"JOBSKILLS_MAX_TEXT_CHARS": "3000", "JOBSKILLS_MAX_BATCH_ITEMS": "8",
          "JOBSKILLS_SERVE_MAX_BODY_BYTES": "65536",
          # admission (services.admission): one full batch per client in flight, two clients' worth in all
          "JOBSKILLS_SERVE_CLIENT_MAX_INFLIGHT_CHARS": "30000", "JOBSKILLS_SERVE_MAX_INFLIGHT_CHARS": "60000",
          # texts over 1,000 characters are cut into units (services.scheduler), so the tests see it
          "JOBSKILLS_SERVE_UNIT_CHARS": "1000"}


@pytest.fixture(scope="session")
def serving_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="session")
def serving_env(serving_root) -> dict[str, str]:
    """Environment of the server (and of the model-building subprocess)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSKILLS_", "BENTOML_"))}
    env.update({
        "BENTOML_HOME": str(serving_root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "JOBSKILLS_DATA_DIR": str(serving_root / "data"),
        "JOBSKILLS_SHARED_DATA_DIR": os.environ.get("JOBSKILLS_SHARED_DATA_DIR", str(REPO.parent / "shared" / "data")),
        "JOBSKILLS_API_KEY": API_KEY,
        "JOBSKILLS_SERVE_GPUS": "0",
        **LIMITS,
    })
    return env


def _build(what: str, serving_env, serving_root, tiny_bert_dir) -> dict:
    out = serving_root / f"{what}.json"
    proc = subprocess.run(
        [sys.executable, str(HERE / "build_tiny_models.py"), str(tiny_bert_dir), str(serving_root / "work"), str(out),
         what],
        env=serving_env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building tiny {what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def tiny_models(serving_env, serving_root, tiny_bert_dir) -> dict:
    """Train and promote a tiny tagger and a tiny group model; returns their champion paths/tags."""
    return _build("models", serving_env, serving_root, tiny_bert_dir)


@pytest.fixture(scope="session")
def tiny_topic_model(serving_env, serving_root, tiny_bert_dir) -> Path:
    """A tiny topic model folder (not published where the server looks)."""
    return Path(_build("topics", serving_env, serving_root, tiny_bert_dir)["topics"]["path"])


@pytest.fixture(scope="session")
def server(serving_env, serving_root, tiny_models) -> str:
    """Base URL of a running ``bentoml serve services.api:ApiService`` on 127.0.0.1."""
    port = free_port()
    proc = start_bentoml(serving_env, REPO, serving_root / "server.log", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def data_dir(serving_root) -> Path:
    return serving_root / "data"
