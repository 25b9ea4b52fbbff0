"""The group CLI commands on a tiny model: classify-skill, match, evaluate errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import group_taxonomy as gt  # noqa: E402

from cli.main import app  # noqa: E402
from common.groups import GroupConfig, train_groups  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def model_dir(tiny_bert_dir, tmp_path_factory):
    cfg = GroupConfig.from_yaml(CONFIGS / "groups-tiny.yaml")
    cfg.encoder = str(tiny_bert_dir)
    out = tmp_path_factory.mktemp("cli") / "model"
    train_groups(cfg, gt.skills(), None, gt.groups(), out_dir=out, progress=False, embed_cache=False)
    return out


def test_classify_skill_prints_ranked_groups(model_dir):
    res = CliRunner().invoke(app, ["classify-skill", "cook meals", "--model", str(model_dir), "--top-k", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data[0]["skill"] == "cook meals" and len(data[0]["groups"]) == 2
    assert data[0]["assigned"] and data[0]["groups"][0]["score"] >= data[0]["groups"][1]["score"]


def test_match_reads_files(model_dir, tmp_path):
    resume, job = tmp_path / "resume.txt", tmp_path / "job.json"
    resume.write_text("- cook meals\n- bake bread\n")
    job.write_text(json.dumps(["cook meals", "write python code"]))
    res = CliRunner().invoke(app, ["match", "--resume", str(resume), "--job", str(job), "--model", str(model_dir), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert 0 < out["score"] <= 1 and out["exact_overlap"] == ["cook meals"]


def test_bad_input_exits_with_a_sentence(model_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["match", "--resume", str(tmp_path / "nope.txt"), "--job", str(tmp_path / "nope.txt"),
                              "--model", str(model_dir)])
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
    res = runner.invoke(app, ["classify-skill", "python", "--model", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no skill-group model" in " ".join(res.output.split())
    res = runner.invoke(app, ["evaluate-groups", "--split", "test2", "--model", str(model_dir)])
    assert res.exit_code == 2
