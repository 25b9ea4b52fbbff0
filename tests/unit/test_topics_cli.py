"""`jobskills topics ...`: fit from a file, show, describe; clear errors on bad input."""

from __future__ import annotations

import json

from topic_collection import themed_collection
from typer.testing import CliRunner

from jobskills.cli.main import app

runner = CliRunner()


def test_fit_show_describe_from_a_jsonl_file(settings_env, tiny_bert_dir, tmp_path):
    texts, _ = themed_collection(per_theme=4)
    data = tmp_path / "postings.jsonl"
    data.write_text("\n".join(json.dumps({"id": f"x{i}", "text": t}) for i, t in enumerate(texts)))
    cfg = tmp_path / "topics.yaml"
    cfg.write_text(f"topics:\n  encoder: {tiny_bert_dir}\n  reducer: pca\n  clusterer: kmeans\n  n_clusters: 3\n"
                   "  min_df: 1\n")
    res = runner.invoke(app, ["topics", "fit", "--from", str(data), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    latest = settings_env.models_dir / "topics" / "latest"
    assert (latest / "topic_model.json").exists() and (latest / "topic_map.png").exists()

    res = runner.invoke(app, ["topics", "show", "--json"])
    assert res.exit_code == 0
    shown = json.loads(res.stdout)
    assert len(shown["topics"]) == 3 and shown["info"]["n_docs"] == len(texts)

    res = runner.invoke(app, ["topics", "describe", "-"], input="Welders join steel.\nWe weld metal pipes.")
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert set(out) == {"topics", "tags", "summary"} and len(out["topics"]) == 3


def test_bad_input_gives_one_sentence_and_nonzero_exit(settings_env, tmp_path):
    res = runner.invoke(app, ["topics", "show"])
    assert res.exit_code == 2 and "no topic model" in res.output
    res = runner.invoke(app, ["topics", "fit", "--from", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(app, ["topics", "describe", "   "])
    assert res.exit_code == 2 and "empty" in res.output
