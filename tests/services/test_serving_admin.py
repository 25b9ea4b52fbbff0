"""Admin endpoints on an exposed host: off without an API key, unless explicitly allowed.

``jobskills serve --host 0.0.0.0`` records the bind host in ``JOBSKILLS_SERVE_BIND_HOST``; the
server here gets exactly that environment (no ``JOBSKILLS_API_KEY``) but listens on 127.0.0.1 only,
as every test server does. It has no models, so it starts fast and the check shows that the
refusal does not depend on them.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from procs import free_port, start_bentoml, stop_group
from typer.testing import CliRunner

from jobskills.cli.main import app
from services.config import ServingConfig, is_loopback

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exposed_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("exposed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSKILLS_", "BENTOML_"))}
    env.update({"BENTOML_HOME": str(root / "bentoml"), "BENTOML_DO_NOT_TRACK": "true",
                "JOBSKILLS_DATA_DIR": str(root / "data"), "JOBSKILLS_SERVE_GPUS": "0",
                "JOBSKILLS_SERVE_BIND_HOST": "0.0.0.0"})
    port = free_port()
    proc = start_bentoml(env, REPO, root / "server.log", port, ready_path="/healthz", timeout=120)
    try:
        yield f"http://127.0.0.1:{port}", root
    finally:
        stop_group(proc)


def test_admin_endpoints_refuse_on_an_exposed_host_without_a_key(exposed_server):
    url, root = exposed_server
    fb = {"text": "We need Python.", "keywords": [{"start": 8, "end": 14, "type": "Knowledge"}]}
    with httpx.Client(base_url=url, timeout=30) as c:
        for path, body in (("/feedback", fb), ("/reload", {})):
            r = c.post(path, json=body)
            assert r.status_code == 403, (path, r.text)
            assert "admin endpoints (/reload, /feedback) are off" in r.json()["error"]
            assert "JOBSKILLS_API_KEY" in r.json()["error"] and "--allow-anonymous-admin" in r.json()["error"]
        status = c.post("/status", json={}).json()
        assert status["admin"].startswith("admin endpoints") and status["api_key_required"] is False
        # the rest of the API still works (here: no model, so a 503 with the reason, not a 403)
        assert c.post("/extract", json={"text": "We need Python."}).status_code == 503
    assert not list((root / "data").rglob("feedback*.jsonl")), "a refused feedback was stored"


@pytest.mark.parametrize("host,expected", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("[::1]", True), ("0.0.0.0", False), ("10.1.2.3", False),
                                           ("example.org", False)])
def test_loopback_hosts(host, expected):
    assert is_loopback(host) is expected


def test_admin_refusal_rules(monkeypatch):
    for k in ("JOBSKILLS_SERVE_BIND_HOST", "JOBSKILLS_SERVE_ALLOW_ANONYMOUS_ADMIN"):
        monkeypatch.delenv(k, raising=False)
    assert ServingConfig().admin_refusal(None) is None  # loopback default
    exposed = ServingConfig(bind_host="0.0.0.0")
    assert "are off" in exposed.admin_refusal(None)
    assert exposed.admin_refusal("a-key") is None
    assert ServingConfig(bind_host="0.0.0.0", allow_anonymous_admin=True).admin_refusal(None) is None


def test_serve_on_an_exposed_host_says_so_in_one_sentence(monkeypatch):
    """The CLI prints the refusal before starting the server, and passes the host to it."""
    from jobskills.cli import serving as serving_cli

    calls = []
    monkeypatch.setattr(serving_cli, "run_together", lambda commands: calls.extend(commands) or 0)
    monkeypatch.delenv("JOBSKILLS_API_KEY", raising=False)
    from common.core.settings import get_settings

    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "3999"])
        assert res.exit_code == 0, res.output
        assert "admin endpoints (/reload, /feedback) are off" in " ".join(res.output.split())
        assert os.environ["JOBSKILLS_SERVE_BIND_HOST"] == "0.0.0.0" and calls and "0.0.0.0" in calls[0]
        res = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--allow-anonymous-admin"])
        assert res.exit_code == 0 and "are off" not in res.output
        assert os.environ["JOBSKILLS_SERVE_ALLOW_ANONYMOUS_ADMIN"] == "true"
    finally:
        for k in ("JOBSKILLS_SERVE_BIND_HOST", "JOBSKILLS_SERVE_ALLOW_ANONYMOUS_ADMIN"):
            os.environ.pop(k, None)
        get_settings.cache_clear()
