"""The README's "Run it end to end" command, run exactly as a newcomer runs it.

No ``JOBSKILLS_*`` variable is set, the working directory is a fresh empty folder (so the default
data folder ``.jobskills`` is relative to it), ``BENTOML_HOME`` and ``PREFECT_HOME`` are temporary,
and the default MiniLM encoder is used: this is the path that failed with Great Expectations'
"base_directory must be an absolute path" while every other test set an absolute data folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _readme_quickstart() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Run it end to end"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return block.splitlines()[0].split(" #")[0].strip()


def test_readme_quickstart_from_an_empty_folder(tmp_path):
    command = _readme_quickstart()
    assert command == "jobskills quickstart"
    cwd = tmp_path / "newcomer"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSKILLS_", "BENTOML_", "PREFECT_"))}
    env.update({"BENTOML_HOME": str(tmp_path / "bentoml"), "PREFECT_HOME": str(tmp_path / "prefect"),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert re.search(r"^keywords\s+promoted keyword-tagger:\S+", proc.stdout, re.M), proc.stdout[-3000:]
    assert re.search(r"^groups\s+promoted skill-groups:\S+", proc.stdout, re.M), proc.stdout[-3000:]
    data = cwd / ".jobskills"
    assert data.is_dir() and list((data / "validation").rglob("*.html")), "no Data Docs under ./.jobskills"
    assert (tmp_path / "bentoml" / "jobskills-registry.json").exists()
    assert "base_directory must be an absolute path" not in out
    assert "Loading weights" not in out  # transformers' per-load bars stay off in the CLI
