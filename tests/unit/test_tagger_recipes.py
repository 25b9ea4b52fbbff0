"""The accurate tier's recipe pieces and the unlabelled-text distillation on a tiny random BERT:
layer-wise learning-rate decay, epoch-end weight averaging, passages of real unlabelled postings,
the resumable teacher-label cache, and a student that learns from unlabelled text alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_corpus import synthetic_postings

from common.keywords.config import TaggerConfig
from common.keywords.tagger import KeywordTagger
from common.keywords.training import encoder_param_lr, train_tagger
from common.keywords.unlabeled import SoftLabelCache, passages_from_records, read_passages, take_fraction
from common.text.spans import posting_text


def tiny_cfg(tiny_bert_dir, **kw) -> TaggerConfig:
    base = dict(encoder=str(tiny_bert_dir), max_length=32, stride=8, batch_size=8, lr=2e-3, head_lr=2e-2,
                dropout=0.0, log_steps=1, threads=1, seed=3, epochs=100, export_onnx=False)
    return TaggerConfig(**{**base, **kw})


def test_layer_wise_decay_gives_lower_layers_smaller_steps():
    lr, decay = 1e-4, 0.9
    top = encoder_param_lr("encoder.layer.11.output.dense.weight", lr, decay, 12)
    bottom = encoder_param_lr("encoder.layer.0.attention.self.query.weight", lr, decay, 12)
    emb = encoder_param_lr("embeddings.word_embeddings.weight", lr, decay, 12)
    assert top == pytest.approx(lr) and bottom == pytest.approx(lr * decay**11) and emb == pytest.approx(lr * decay**12)
    assert encoder_param_lr("encoder.relative_attention_bias.weight", lr, decay, 12) == lr  # above the layers
    assert encoder_param_lr("encoder.layer.3.output.dense.weight", lr, 1.0, 12) == lr  # decay off: one rate


def test_the_optimizer_follows_the_decay(tiny_bert_dir, tmp_path):
    """With decay the optimizer holds one rate per layer (and one for the embeddings), highest on top."""
    from common.keywords.training import _initial_tagger, _TrainingRun
    from common.keywords.encoding import doc_from_posting, window_items

    cfg = tiny_cfg(tiny_bert_dir, layer_lr_decay=0.5, lr=1e-3)
    tagger = _initial_tagger(cfg, "cpu")
    items = window_items([doc_from_posting(tagger.tokenizer, p) for p in synthetic_postings(2)], tagger.tokenizer, 32, 8)
    run = _TrainingRun(cfg, tagger, items, tmp_path / "ckpt")
    rates = sorted({g["initial_lr"] for g in run.optim.param_groups if g["params"]} - {cfg.head_lr})
    layers = run.n_layers
    assert rates == pytest.approx(sorted(1e-3 * 0.5**k for k in range(layers + 1)))


def test_epoch_end_averaging_saves_the_mean_and_records_the_last_weights(tiny_bert_dir, tmp_path):
    train, dev = synthetic_postings(8), synthetic_postings(3, seed=1)
    steps_per_epoch = 1  # 8 postings, windows fit one batch of 8 or so: check from the run itself
    res = train_tagger(tiny_cfg(tiny_bert_dir, epochs=3, average_last_epochs=2, batch_size=64), train, dev,
                       tmp_path / "m", progress=False)
    meta = json.loads((res.model_dir / "tagger.json").read_text())
    assert meta["averaged_epochs"] == [2, 3]
    assert any("dev_span_f1_last_weights" in h for h in meta["history"])
    assert not (tmp_path / "m" / "checkpoint").exists()  # snapshots go with the checkpoint
    assert (tmp_path / "m" / "last-weights" / "tagger.json").exists()  # the last weights are kept beside
    # the saved weights are not the last ones: averaging moved them
    last = train_tagger(tiny_cfg(tiny_bert_dir, epochs=3, batch_size=64), train, None, tmp_path / "last",
                        progress=False)
    a = KeywordTagger.load(res.model_dir, backend="torch").net.head.weight
    b = KeywordTagger.load(last.model_dir, backend="torch").net.head.weight
    assert steps_per_epoch and not torch.allclose(a, b)


def test_passages_drop_boilerplate_repeats_headings_and_keep_a_fixed_order():
    records = [{"id": "a", "source": "s", "text": "DUTIES\n\nPlans and directs   the work of staff.\n\n"
                                                  "The City is an equal opportunity employer."},
               {"id": "b", "source": "s", "text": "Maintains the database of records daily.\n\n"
                                                  "The City is an equal opportunity employer."}]
    passages = passages_from_records(records)
    texts = [p.text for p in passages]
    assert sorted(texts) == sorted(["Plans and directs the work of staff.", "Maintains the database of records daily.",
                                    "The City is an equal opportunity employer."])
    assert passages_from_records(list(reversed(records)))[0].text == texts[0]  # order from the text, not the file
    assert take_fraction(passages, 0.34) == passages[:1] and take_fraction(passages, 0) == []
    with pytest.raises(ValueError):
        take_fraction(passages, 1.5)


def test_real_unlabelled_postings_split_into_passages(shared_data):
    path = shared_data / "unlabeled" / "postings.jsonl"
    if not path.exists():
        pytest.skip(f"no unlabelled text at {path}")
    passages = read_passages(path)
    sources = {p.source for p in passages}
    assert sources == {"los-angeles-city-bulletins", "onet-18.1-task-statements"}
    assert len(passages) > 20_000 and len({p.text.lower() for p in passages}) == len(passages)
    assert sum(len(p.text.split()) for p in passages) > 1_000_000


def test_the_label_cache_resumes_and_refuses_another_teacher(tiny_bert_dir, tmp_path):
    passages = passages_from_records([{"id": str(i), "source": "s", "text": posting_text(p)}
                                      for i, p in enumerate(synthetic_postings(10))])
    calls = []

    def label(texts):
        calls.append(len(texts))
        return [np.full((len(t.split()), 2, 3), 1 / 3, dtype=np.float32) for t in texts]

    cache = SoftLabelCache(tmp_path / "c", shard_size=4)
    cache.fill("teacher-a", passages, label, limit=5, progress=False)  # shards 0 and 1
    assert calls == [4, 4]
    with pytest.raises(ValueError, match="not labelled yet"):
        cache.load(1.0)
    cache.fill("teacher-a", passages, label, progress=False)  # resumes: only the missing shard
    assert calls == [4, 4, len(passages) - 8]
    loaded = cache.load(1.0)
    assert [p.id for p in loaded.passages] == [p.id for p in passages] and len(loaded.probs) == len(passages)
    with pytest.raises(ValueError, match="another teacher"):
        cache.fill("teacher-b", passages, label, progress=False)
    with pytest.raises(FileNotFoundError, match="label-unlabeled"):
        SoftLabelCache(tmp_path / "none").load()


def test_a_student_learns_from_unlabelled_text_alone(tiny_bert_dir, tmp_path):
    """Gold windows train on gold; unlabelled windows only on the teacher: a student with no gold
    at all (alpha 1, SkillSpan postings cut to one) still decides like the teacher."""
    from common.keywords.unlabeled import label_unlabeled

    teacher = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), synthetic_postings(12), None, tmp_path / "t",
                           progress=False)
    source = tmp_path / "unlabeled.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "source": "synthetic", "text": posting_text(p)}) + "\n"
                              for i, p in enumerate(synthetic_postings(30, seed=4))), encoding="utf-8")
    cache = label_unlabeled(teacher.model_dir, source, tmp_path / "labels", progress=False)
    student = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=60, seed=7, unlabeled_cache=str(cache),
                                    distill_alpha=1.0, distill_temperature=1.0, max_train_postings=1),
                           synthetic_postings(12), None, tmp_path / "s", progress=False)
    texts = [posting_text(p) for p in synthetic_postings(4, seed=9)]
    t_lab = np.concatenate([t.argmax(-1).ravel() for t in KeywordTagger.load(teacher.model_dir).word_probabilities(texts)])
    s_lab = np.concatenate([s.argmax(-1).ravel() for s in KeywordTagger.load(student.model_dir).word_probabilities(texts)])
    keyword = t_lab > 0
    assert keyword.sum() >= 10 and np.mean(s_lab[keyword] == t_lab[keyword]) >= 0.8, np.mean(s_lab[keyword] == t_lab[keyword])


def test_unlabelled_windows_add_no_gold_loss():
    """The loss of a window without gold is the teacher term alone: labels there are ignored."""
    from common.keywords.network import build_net

    class Enc(torch.nn.Module):
        config = type("C", (), {"hidden_size": 4})()

    net = build_net(Enc(), "finetune", 0.0)
    em = torch.randn(2, 3, 2, 3)
    soft = torch.softmax(torch.randn(2, 3, 2, 3), -1)
    mask = torch.ones(2, 3, dtype=torch.bool)
    labels = torch.zeros(2, 3, 2, dtype=torch.long)
    batch = {"word_mask": mask, "labels": labels, "soft": soft, "gold": torch.tensor([True, False]),
             "has_soft": torch.tensor([True, True])}
    flipped = {**batch, "labels": labels.clone()}
    flipped["labels"][1] = 2  # other "labels" on the unlabelled row: the same loss
    assert torch.allclose(net.loss(em, batch, 0.5, 2.0), net.loss(em, flipped, 0.5, 2.0))
    changed = {**batch, "labels": labels.clone()}
    changed["labels"][0] = 2  # on the gold row they count
    assert not torch.allclose(net.loss(em, batch, 0.5, 2.0), net.loss(em, changed, 0.5, 2.0))


def test_a_tier_trained_by_hand_enters_the_registry_through_its_gate(tiny_bert_dir, tmp_path, monkeypatch):
    """`jobskills registry add DIR --kind keywords_accurate`: the accurate tier's own name and gate;
    a second copy that does not beat the champion is refused (exit 1); an unknown kind is exit 2."""
    from typer.testing import CliRunner

    from common import registry
    from common.core.settings import get_settings
    from jobskills.cli.main import app

    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30, tier="accurate"), synthetic_postings(12),
                       synthetic_postings(3, seed=1), tmp_path / "acc", progress=False)
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["registry", "add", str(res.model_dir), "--kind", "keywords_accurate"])
        assert first.exit_code == 0, first.output
        champ = registry.champion("keyword-tagger-accurate")
        assert champ is not None and registry.champion("keyword-tagger") is None
        assert champ.metrics["span_f1"] == pytest.approx(res.metrics["span_f1"])
        again = runner.invoke(app, ["registry", "add", str(res.model_dir), "--kind", "keywords_accurate"])
        assert again.exit_code == 1 and "not registered" in again.stdout
        bad = runner.invoke(app, ["registry", "add", str(res.model_dir), "--kind", "keyword"])
        assert bad.exit_code == 2 and "unknown model kind" in " ".join(bad.output.split())
    finally:
        get_settings.cache_clear()


def test_length_buckets_batch_similar_lengths_and_keep_every_window(tiny_bert_dir, tmp_path):
    from common.keywords.encoding import doc_from_text, window_items
    from common.keywords.training import _initial_tagger, _TrainingRun

    cfg = tiny_cfg(tiny_bert_dir, batch_size=4, length_buckets=True)
    tagger = _initial_tagger(cfg, "cpu")
    texts = [" ".join(["python"] * n) for n in [2, 30, 3, 25, 4, 28, 5, 27] * 20]
    items = window_items([doc_from_text(tagger.tokenizer, t) for t in texts], tagger.tokenizer, 32, 8)
    run = _TrainingRun(cfg, tagger, items, tmp_path / "ckpt")
    order = run.epoch_order(0)
    assert sorted(order.tolist()) == list(range(len(items)))  # every window once
    assert run.epoch_order(0).tolist() == order.tolist() and run.epoch_order(1).tolist() != order.tolist()
    spread = [max(len(items[i].input_ids) for i in order[b : b + 4]) - min(len(items[i].input_ids) for i in order[b : b + 4])
              for b in range(0, len(order), 4)]
    plain = _TrainingRun(tiny_cfg(tiny_bert_dir, batch_size=4), tagger, items, tmp_path / "ckpt2").epoch_order(0)
    plain_spread = [max(len(items[i].input_ids) for i in plain[b : b + 4]) - min(len(items[i].input_ids) for i in plain[b : b + 4])
                    for b in range(0, len(plain), 4)]
    assert np.mean(spread) < 0.3 * np.mean(plain_spread)


def test_unlabeled_cache_auto_is_the_teachers_folder(tiny_bert_dir, tmp_path, monkeypatch):
    from common.core.settings import get_settings
    from common.keywords.distillation import unlabeled_items
    from common.keywords.unlabeled import default_cache_dir, label_unlabeled

    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        teacher = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=5), synthetic_postings(4), None, tmp_path / "t",
                               progress=False)
        source = tmp_path / "u.jsonl"
        source.write_text(json.dumps({"id": "1", "source": "s", "text": "we need python and sql every day"}) + "\n")
        label_unlabeled(teacher.model_dir, source, default_cache_dir(teacher.model_dir), progress=False)
        cfg = tiny_cfg(tiny_bert_dir, teacher=str(teacher.model_dir), unlabeled_cache="auto")
        items = unlabeled_items(cfg, KeywordTagger.load(teacher.model_dir).tokenizer, first_doc=3)
        assert len(items) == 1 and items[0].doc == 3 and items[0].labels is None and items[0].soft is not None
        with pytest.raises(ValueError, match="needs a teacher"):
            unlabeled_items(tiny_cfg(tiny_bert_dir, unlabeled_cache="auto"), None, 0)
    finally:
        get_settings.cache_clear()
