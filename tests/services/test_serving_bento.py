"""``bentoml build`` from bentofile.yaml packs the code, the page and the champion models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bentoml_build_packs_code_page_and_champions(serving_env, tiny_models):
    proc = subprocess.run([sys.executable, "-m", "bentoml", "build", "--output", "tag"], cwd=REPO, env=serving_env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tag = proc.stdout.strip().splitlines()[-1].replace("__tag__:", "").strip()
    name, version = tag.split(":")
    bento_dir = Path(serving_env["BENTOML_HOME"]) / "bentos" / name / version
    info = yaml.safe_load((bento_dir / "bento.yaml").read_text())
    assert info["service"] == "services.api:ApiService"
    # BentoML 1.4 lists each service's models under services[*].models (containerize/export copy them)
    packed = {str(m["tag"]) for svc in info["services"] for m in svc.get("models", [])}
    assert {tiny_models["keywords"]["tag"], tiny_models["groups"]["tag"]} <= packed
    for rel in ("src/services/api.py", "src/services/static/index.html", "src/common/keywords/tagger.py",
                "src/common/core/settings.py", "src/services/rpc/server.py", "src/jobskills/v1/jobskills.proto",
                "src/jobskills/v1/jobskills_pb2.py", "src/jobskills/v1/jobskills_pb2_grpc.py"):
        assert (bento_dir / rel).exists(), rel
    assert not (bento_dir / "src" / "tests").exists()
