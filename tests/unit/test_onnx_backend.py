"""The ONNX Runtime backend on a tiny tagger: exported at training, chosen by settings, and the
same keywords as torch (fp32) or nearly the same (int8)."""

from __future__ import annotations

import json

import pytest
from test_tagger import tiny_cfg
from tiny_corpus import synthetic_postings

from common.keywords.evaluate import evaluate_keywords
from common.keywords.tagger import KeywordTagger
from common.keywords.training import train_tagger
from common.text.onnx_backend import available_backends, choose_backend
from common.text.spans import posting_text


@pytest.fixture(scope="module")
def trained(tiny_bert_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "m"
    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), synthetic_postings(12), synthetic_postings(4, seed=1),
                       out, progress=False)
    return res


def test_training_exports_both_onnx_files_and_scores_the_serving_backend(trained):
    assert available_backends(trained.model_dir) == ["torch", "onnx", "onnx-int8"]
    meta = json.loads((trained.model_dir / "tagger.json").read_text())
    assert meta["metrics"]["backend"] == "onnx-int8"  # auto on CPU serves the int8 export
    assert abs(meta["metrics"]["span_f1"] - meta["metrics"]["torch_span_f1"]) <= 0.05
    report = json.loads((trained.model_dir / "report.json").read_text())
    assert report["torch"]["span"]["overall"]["f1"] == pytest.approx(meta["metrics"]["torch_span_f1"])


def test_backends_agree(trained):
    dev = synthetic_postings(6, seed=2)
    texts = [posting_text(p) for p in dev]
    by_backend = {b: KeywordTagger.load(trained.model_dir, device="cpu", backend=b) for b in ("torch", "onnx", "onnx-int8")}
    assert {b: t.backend for b, t in by_backend.items()} == {"torch": "torch", "onnx": "onnx", "onnx-int8": "onnx-int8"}
    kws = {b: t.extract(texts) for b, t in by_backend.items()}
    key = lambda ks: [[(k.start, k.end, k.type) for k in doc] for doc in ks]  # noqa: E731
    assert key(kws["onnx"]) == key(kws["torch"])  # fp32: the same keywords
    f1 = {b: evaluate_keywords(dev, k)["span"]["overall"]["f1"] for b, k in kws.items()}
    assert f1["torch"] > 0.3, f1  # not a vacuous comparison
    assert abs(f1["onnx-int8"] - f1["torch"]) <= 0.05, f1
    assert by_backend["onnx-int8"].tier == by_backend["torch"].tier == "fast"


def test_choice_rules(trained, tmp_path):
    assert choose_backend(trained.model_dir, "auto", "cpu") == "onnx-int8"
    assert choose_backend(trained.model_dir, "auto", "cuda") == "torch"
    assert choose_backend(tmp_path, "auto", "cpu") == "torch"  # no export: torch still serves
    with pytest.raises(FileNotFoundError, match="export-onnx"):
        choose_backend(tmp_path, "onnx-int8", "cpu")
    with pytest.raises(ValueError, match="unknown inference backend"):
        choose_backend(trained.model_dir, "tensorrt", "cpu")


def test_an_onnx_tagger_saves_a_copy_that_loads_with_any_backend(trained, tmp_path):
    tagger = KeywordTagger.load(trained.model_dir, device="cpu", backend="onnx-int8")
    copy = tagger.save(tmp_path / "copy")
    assert available_backends(copy) == ["torch", "onnx", "onnx-int8"]
    text = ["we need python and sql"]
    assert KeywordTagger.load(copy, device="cpu", backend="torch").extract(text) == \
        KeywordTagger.load(trained.model_dir, device="cpu", backend="torch").extract(text)
    with pytest.raises(ValueError, match="another folder"):
        tagger.save(trained.model_dir)


def test_group_model_serves_its_int8_export(tiny_bert_dir, tmp_path):
    """The group model exports its encoder at save, its dev figures are the serving backend's, and
    the int8 model puts skills in nearly the same groups as torch (export is opt-in for group models)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import group_taxonomy as gt
    from test_groups_model import _cfg

    from common.groups.model import GroupModel
    from common.groups.training import train_groups

    df = gt.skills()
    dev, train = df.iloc[::6].reset_index(drop=True), df.drop(df.index[::6]).reset_index(drop=True)
    res = train_groups(_cfg(tiny_bert_dir).model_copy(update={"export_onnx": True}), train, dev, gt.groups(),
                       out_dir=tmp_path / "g", progress=False, embed_cache=False)
    assert available_backends(res.model_dir) == ["torch", "onnx", "onnx-int8"]
    assert res.metrics["backend"] == "onnx-int8" and "l2" in res.metrics["torch"]
    served = GroupModel.load(res.model_dir)
    assert served.encoder().backend == "onnx-int8"
    skills = dev["label"].tolist()
    int8 = [d.groups[0].code for d in served.decide(skills, level=2)]
    plain = GroupModel.load(res.model_dir)
    plain.onnx_dir = None  # torch
    ref = [d.groups[0].code for d in plain.decide(skills, level=2)]
    assert sum(a == b for a, b in zip(int8, ref)) >= 0.8 * len(ref)


def test_int8_keeps_outlier_projections_in_fp32_when_plain_int8_breaks_the_encoder(tiny_bert_dir, tmp_path):
    """An encoder whose feed-forward activations carry an outlier channel (as all-mpnet-base-v2's do:
    plain int8 gives it a probe cosine of 0.44) is quantised with those projections left in fp32."""
    import torch
    from transformers import AutoModel

    from common.text.onnx_backend import PROBE_MIN_COSINE, export_encoder, probe_cosine

    enc = AutoModel.from_pretrained(str(tiny_bert_dir)).eval()
    with torch.no_grad():
        for layer in enc.encoder.layer:
            layer.intermediate.dense.bias[0] = 1000.0  # one huge channel into the down-projection, which
            layer.output.dense.weight *= 50.0  # (a random init's feed-forward is too weak to matter)
            layer.output.dense.weight[:, 0] = 0.0  # barely uses it: 8 bits spent on it leave the others 0
    paths = export_encoder(enc, tmp_path)
    meta = json.loads((tmp_path / "encoder-int8.json").read_text())
    assert meta["scheme"] == "ffn-output-fp32", meta
    assert meta["probe_cosine"] >= PROBE_MIN_COSINE and probe_cosine(paths["onnx-int8"], enc) >= PROBE_MIN_COSINE

    plain = AutoModel.from_pretrained(str(tiny_bert_dir)).eval()
    export_encoder(plain, tmp_path / "plain")
    assert json.loads((tmp_path / "plain" / "encoder-int8.json").read_text())["scheme"] == "plain"


def test_an_int8_export_below_parity_gives_way_to_fp32(trained, tmp_path):
    """all-mpnet-base-v2's int8 export measured 0.0087 span-F1 under torch on dev: recorded as
    refused, ``auto`` serves the fp32 export on CPU (and torch on a GPU, as always)."""
    import shutil

    from common.text.onnx_backend import int8_refused, record_int8_parity

    folder = tmp_path / "m"
    shutil.copytree(trained.model_dir, folder)
    assert choose_backend(folder, "auto", "cpu") == "onnx-int8" and not int8_refused(folder)
    assert record_int8_parity(folder, 0.5142, 0.5055, "span.overall.f1") is False
    assert int8_refused(folder) and choose_backend(folder, "auto", "cpu") == "onnx"
    assert choose_backend(folder, "auto", "cuda") == "torch" and choose_backend(folder, "onnx-int8", "cpu") == "onnx-int8"
    assert KeywordTagger.load(folder, device="cpu").backend == "onnx"
    assert record_int8_parity(folder, 0.5142, 0.5100, "span.overall.f1") is True  # within 0.005: int8 again
    assert choose_backend(folder, "auto", "cpu") == "onnx-int8"
    meta = json.loads((folder / "encoder-int8.json").read_text())
    assert meta["parity"] == {"metric": "span.overall.f1", "torch": 0.5142, "int8": 0.51, "ok": True}
