"""The Kubernetes layout of the BentoML services, run as three local processes.

``infra/k8s`` runs each model service of the Bento in its own Deployment
(``start-http-server --service-name ...``) and the API with ``--depends name=http://...``. This
test takes those container args from the manifests themselves, swaps the host names and ports for
127.0.0.1 and free ports, runs them with the command the Bento image's entrypoint runs
(``python -m bentoml_cli._internal.start``), and checks that the API becomes ready only through
the remote model services and answers real requests with the promoted tiny models.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from procs import stop_group

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(manifest: str) -> list[str]:
    for doc in yaml.safe_load_all((K8S / manifest).read_text()):
        if doc and doc["kind"] == "Deployment":
            return list(doc["spec"]["template"]["spec"]["containers"][0]["args"])
    raise AssertionError(f"no Deployment in {manifest}")


def _local(args: list[str], port: int, hosts: dict[str, int]) -> list[str]:
    out = []
    for a in args:
        for host, p in hosts.items():
            a = a.replace(f"http://{host}:3000", f"http://127.0.0.1:{p}")
        out.append(a)
    out[out.index("--host") + 1] = "127.0.0.1"
    out[out.index("--port") + 1] = str(port)
    return out


def _wait(url: str, path: str, procs: list, logs: list[Path], want: int = 200, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p, log in zip(procs, logs, strict=True):
            if p.poll() is not None:
                raise RuntimeError(f"{log.name} exited {p.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + path, timeout=5).status_code == want:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url}{path} not {want} after {timeout} s:\n" + "\n".join(l.read_text()[-2000:] for l in logs))


@pytest.mark.slow
def test_k8s_split_services_serve_through_remote_model_services(serving_env, serving_root, tiny_models):
    ports = {"keyword-tagger": free_port(), "skill-groups": free_port(), "jobskills-api": free_port()}
    procs, logs = [], []
    try:
        for name in ("keyword-tagger", "skill-groups", "jobskills-api"):
            args = _local(_args(f"{name}.yaml"), ports[name], ports)
            assert args[0] == "start-http-server"
            log = serving_root / f"split-{name}.log"
            logs.append(log)
            with log.open("w") as fh:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bentoml_cli._internal.start", *args, "services.api:ApiService"],
                    env=serving_env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True))
            if name != "jobskills-api":
                _wait(f"http://127.0.0.1:{ports[name]}", "/healthz", procs, logs)
        api = f"http://127.0.0.1:{ports['jobskills-api']}"
        _wait(api, "/readyz", procs, logs)  # 200 only when both remote model services report a model
        for name in ("keyword-tagger", "skill-groups"):
            assert httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=10).status_code == 200
        with httpx.Client(base_url=api, timeout=120) as c:
            status = c.post("/status", json={}).json()
            assert status["keywords"]["tag"] == tiny_models["keywords"]["tag"]
            assert status["groups"]["tag"] == tiny_models["groups"]["tag"]
            text = "We need python and sql experience for the data team and good communication"
            r = c.post("/analyze", json={"text": text})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["keyword_model_tag"] == tiny_models["keywords"]["tag"]
            assert body["group_model_tag"] == tiny_models["groups"]["tag"]
            assert c.post("/extract", json={"text": text}).status_code == 200
        # the API process started no model service of its own: stopping the tagger makes it unready
        os.killpg(procs[0].pid, signal.SIGTERM)
        procs[0].wait(timeout=30)
        with httpx.Client(base_url=api, timeout=30) as c:
            r = c.post("/extract", json={"text": text})
            assert r.status_code >= 500, "extract must fail once the remote tagger is gone"
    finally:
        for p in procs:
            stop_group(p)
