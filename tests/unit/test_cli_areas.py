"""The CLI is grouped by area; every old top-level name still runs, hidden, for one release."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobskills.cli.main import app

RENAMED = {
    "train-keywords": "keywords train", "evaluate-keywords": "keywords evaluate", "extract": "keywords extract",
    "export-onnx": "keywords export-onnx", "train-groups": "groups train", "evaluate-groups": "groups evaluate",
    "classify-skill": "groups classify", "match": "groups match", "build-linker": "esco build-linker",
    "link": "esco link", "ingest": "pipeline ingest", "validate": "pipeline validate",
    "merge-labels": "pipeline merge-labels", "retrain": "pipeline retrain", "serve-flows": "pipeline serve-flows",
}


def test_the_top_level_help_lists_areas_not_the_old_names():
    out = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    for area in ("keywords", "groups", "esco", "pipeline", "registry", "data", "topics", "quickstart", "serve"):
        assert f" {area} " in out, area
    for old in ("train-keywords", "classify-skill", "build-linker", "merge-labels", "serve-flows"):
        assert old not in out, old


@pytest.mark.parametrize("old,new", sorted(RENAMED.items()))
def test_an_old_name_runs_the_same_command_as_its_new_name(old, new):
    runner = CliRunner()
    new_help = runner.invoke(app, [*new.split(), "--help"], terminal_width=200)
    old_help = runner.invoke(app, [old, "--help"], terminal_width=200)
    assert new_help.exit_code == 0 and old_help.exit_code == 0, (new_help.output, old_help.output)
    options = lambda text: sorted(w for w in text.split() if w.startswith("--"))  # noqa: E731
    assert options(old_help.output) == options(new_help.output)


def test_a_config_typo_on_the_command_line_is_exit_2_with_one_sentence(tmp_path):
    cfg = tmp_path / "tagger.yaml"
    cfg.write_text("epoch: 3\n")
    res = CliRunner().invoke(app, ["keywords", "train", "--config", str(cfg)], terminal_width=300)
    assert res.exit_code == 2
    assert f"{cfg}: unknown field 'epoch' (did you mean 'epochs'?)" in " ".join(res.output.split())
