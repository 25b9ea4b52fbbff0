"""The keyword tagger on a tiny random BERT: learning, striding, save/load, CRF, resume."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from tiny_corpus import FILLER, synthetic_postings

from common.text.spans import posting_text
from common.keywords.tagger import KeywordTagger
from common.keywords.config import TaggerConfig
from common.keywords.network import build_net as _build_net
from common.keywords.training import train_tagger


def tiny_cfg(tiny_bert_dir, **kw) -> TaggerConfig:
    base = dict(encoder=str(tiny_bert_dir), max_length=32, stride=8, batch_size=8, lr=2e-3, head_lr=2e-2,
                dropout=0.0, log_steps=1, threads=1, seed=3, epochs=100)
    base.update(kw)
    return TaggerConfig(**base)


def test_tiny_bert_loss_goes_down_and_tagger_round_trips(tiny_bert_dir, tmp_path):
    train = synthetic_postings(12)
    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), train, None, tmp_path / "m", progress=False)
    losses = [h["loss"] for h in res.history if "loss" in h]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert (res.model_dir / "tagger.json").exists()

    text = "we need python and sql\nstrong project management and communication"
    tagger = KeywordTagger.load(res.model_dir, device="cpu")
    kws = tagger.extract([text, ""])
    assert kws[1] == []
    for k in kws[0]:
        assert text[k.start : k.end] == k.text and 0.0 <= k.score <= 1.0
    found = {(k.text, k.type) for k in kws[0]}
    assert ("python", "Knowledge") in found and ("sql", "Knowledge") in found
    # a reloaded copy predicts exactly the same keywords
    tagger.save(tmp_path / "copy")
    assert KeywordTagger.load(tmp_path / "copy").extract([text]) == [kws[0]]


def _keyword_oracle(tagger: KeywordTagger, word: str) -> None:
    """Make the tagger's net call every word whose first piece is ``word`` a Knowledge keyword."""
    target = tagger.tokenizer.convert_tokens_to_ids(word)

    def emissions(batch):
        first = batch["input_ids"].gather(1, batch["word_pos"])
        em = torch.zeros(first.shape + (2, 3))
        em[..., 0] = 1.0  # O everywhere ...
        em[..., 1, 1] = (first == target).float() * 5.0  # ... B-Knowledge on the target word
        return em

    tagger.net.emissions = emissions


def test_striding_covers_a_posting_longer_than_the_window(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    net = _build_net(AutoModel.from_pretrained(tiny_bert_dir), "finetune", 0.0).eval()
    tagger = KeywordTagger(net, tok, {"variant": "finetune", "max_length": 16, "stride": 4})
    rng = random.Random(1)
    # one 400-word line (no newline: only striding can cover it) and a multi-line text
    words = [rng.choice(FILLER + ["xylophone", "javascript"]) for _ in range(400)]
    for i in (0, 7, 150, 398, 399):
        words[i] = "python"
    long_line = " ".join(words)
    multi = "\n".join(" ".join(words[i : i + 37]) for i in range(0, 400, 37))
    assert len(tok(long_line)["input_ids"]) > 10 * 16
    _keyword_oracle(tagger, "python")
    for text in (long_line, multi):
        kws = tagger.extract([text])[0]
        expected = [i for i in range(len(text)) if text.startswith("python", i)
                    and (i == 0 or text[i - 1].isspace()) and (i + 6 == len(text) or text[i + 6].isspace())]
        assert [k.start for k in kws] == expected
        assert all(k.text == "python" and k.type == "Knowledge" for k in kws)
        assert kws[-1].end == len(text)  # the last word, far beyond the first window, is found


def test_crf_variant_trains_and_decodes(tiny_bert_dir, tmp_path):
    train = synthetic_postings(8, seed=5)
    res = train_tagger(tiny_cfg(tiny_bert_dir, variant="crf", max_steps=12), train, train[:3], tmp_path / "crf",
                       progress=False)
    assert 0.0 <= res.metrics["span_f1"] <= 1.0
    assert (res.model_dir / "report.json").exists() and (res.model_dir / "report.png").exists()
    tagger = KeywordTagger.load(res.model_dir)
    assert tagger.variant == "crf"
    text = posting_text(train[0])
    kws = tagger.extract([text])[0]
    assert all(text[k.start : k.end] == k.text for k in kws)


def test_frozen_variant_keeps_encoder_weights(tiny_bert_dir, tmp_path):
    from transformers import AutoModel

    before = AutoModel.from_pretrained(tiny_bert_dir).state_dict()
    res = train_tagger(tiny_cfg(tiny_bert_dir, variant="frozen", max_steps=5), synthetic_postings(4), None,
                       tmp_path / "frozen", progress=False)
    after = AutoModel.from_pretrained(res.model_dir).state_dict()
    for name, value in before.items():
        if name in after:
            assert torch.equal(value, after[name]), name


def test_training_resumes_from_checkpoint(tiny_bert_dir, tmp_path, monkeypatch):
    import common.keywords.training as tagger_mod

    cfg = tiny_cfg(tiny_bert_dir, max_steps=8, checkpoint_steps=4)
    train = synthetic_postings(6)
    real_save = tagger_mod._save_checkpoint

    def save_then_crash(path, state):
        real_save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(tagger_mod, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train_tagger(cfg, train, None, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "checkpoint" / "state.pt").exists()
    monkeypatch.setattr(tagger_mod, "_save_checkpoint", real_save)
    res = train_tagger(cfg, train, None, tmp_path / "r", progress=False)
    steps = [h["step"] for h in res.history if "loss" in h]
    assert steps == list(range(1, 9))  # steps 1-4 from the first run, 5-8 after resuming
    assert not (tmp_path / "r" / "checkpoint").exists()


def test_config_from_yaml_and_validation(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("variant: crf\nepochs: 2\nmax_length: 64\n")
    cfg = TaggerConfig.from_yaml(path, epochs=3, lr=None)
    assert (cfg.variant, cfg.epochs, cfg.max_length) == ("crf", 3, 64)
    with pytest.raises(ValueError):
        TaggerConfig(max_length=16, stride=20)
    with pytest.raises(ValueError):
        TaggerConfig(variant="bilstm")


def test_bio_viterbi_finds_the_best_valid_path():
    """Brute force over all well-formed O/B/I paths of short sequences."""
    import itertools

    from common.text.spans import is_valid_bio
    from common.keywords.config import LABELS
    from common.keywords.decoding import bio_viterbi

    rng = np.random.default_rng(0)
    for n in range(1, 6):
        for _ in range(20):
            logp = np.log(rng.dirichlet(np.ones(3), size=n))
            best = max((p for p in itertools.product(range(3), repeat=n) if is_valid_bio([LABELS[i] for i in p])),
                       key=lambda p: sum(logp[i, j] for i, j in enumerate(p)))
            assert tuple(bio_viterbi(logp)) == best
    assert list(bio_viterbi(np.log(np.array([[0.1, 0.2, 0.7], [0.1, 0.1, 0.8]])))) == [1, 2]  # I at start -> B


def test_average_of_identical_taggers_and_o_bias(tiny_bert_dir, tmp_path):
    from common.keywords.training import average_taggers

    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=20), synthetic_postings(8), None, tmp_path / "a",
                       progress=False)
    text = "we need python and sql\nstrong project management"
    base = KeywordTagger.load(res.model_dir).extract([text])
    assert base[0]
    avg = KeywordTagger.load(average_taggers([res.model_dir, res.model_dir], tmp_path / "avg"))
    assert [[(k.start, k.end, k.type) for k in ks] for ks in avg.extract([text])] == \
        [[(k.start, k.end, k.type) for k in ks] for ks in base]
    avg.meta["o_bias"] = 50.0  # O always wins: nothing is a keyword
    assert avg.extract([text]) == [[]]


def test_extract_cli_says_which_model_answered(tiny_bert_dir, tmp_path, monkeypatch):
    """`jobskills keywords extract` prints the keywords, then the model, its tier and its dev score; a model
    below the floor (JOBSKILLS_KEYWORD_SCORE_FLOOR) is flagged LOW QUALITY."""
    import json

    from typer.testing import CliRunner

    from jobskills.cli.main import app
    from common.core.settings import get_settings

    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30, eval_each_epoch=False), synthetic_postings(12),
                       synthetic_postings(3, seed=1), tmp_path / "m", progress=False)
    f1 = json.loads((res.model_dir / "report.json").read_text())["span"]["overall"]["f1"]
    text = "we need python and sql\x00, strong communication"
    monkeypatch.setenv("JOBSKILLS_KEYWORD_SCORE_FLOOR", "1.0")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "empty-store"))
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", str(tmp_path / "data"))  # no linker there, whatever the checkout holds
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["extract", text, "--model", str(res.model_dir), "--json"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    kws = answer["keywords"]
    assert answer["skills"] is None  # no linker in this data dir: no ESCO skills, said on stderr
    assert kws and all("\x00" not in k["text"] and text[k["start"]:k["end"]] == k["text"] for k in kws)
    line = " ".join(out.stderr.split())
    assert f"model dir:m (fast tier), dev span.overall.f1 {f1:.3f}" in line
    assert ("LOW QUALITY: below the floor 1.00" in line) == (f1 < 1.0)


def test_keywords_never_carry_punctuation(tiny_bert_dir, tmp_path):
    """Minimum functionality: ``python,`` and ``(sql).`` give ``python`` and ``sql``; and invariance:
    the same words written with or without the spaces SkillSpan puts around punctuation give the
    same keyword texts."""
    from common.text.words import is_punctuation

    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), synthetic_postings(12), None, tmp_path / "m",
                       progress=False)
    tagger = KeywordTagger.load(res.model_dir, device="cpu")
    written = "we need python, java and (sql).\nstrong communication, project management!"
    spaced = "we need python , java and ( sql ) .\nstrong communication , project management !"
    kws = tagger.extract([written])[0]
    assert {k.text for k in kws} >= {"python", "sql"}
    for k in kws:
        assert written[k.start:k.end] == k.text
        assert not is_punctuation(k.text[0]) and not is_punctuation(k.text[-1]), k
    assert sorted(k.text for k in kws) == sorted(k.text for k in tagger.extract([spaced])[0])


def test_a_student_learns_its_teachers_distributions(tiny_bert_dir, tmp_path):
    """Distillation: with alpha=1 the student sees only the teacher's per-word distributions and
    ends up deciding like the teacher on postings neither trained on."""
    from common.keywords.distillation import teacher_probabilities

    train = synthetic_postings(12)
    teacher = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), train, None, tmp_path / "teacher", progress=False)
    probs = teacher_probabilities(teacher.model_dir, train, "cpu")
    assert len(probs) == len(train) and probs[0].shape[1:] == (2, 3)
    assert np.allclose(probs[0].sum(-1), 1.0, atol=1e-4)
    student = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=40, seed=7, teacher=str(teacher.model_dir),
                                    distill_alpha=1.0, distill_temperature=1.0),
                           train, None, tmp_path / "student", progress=False)
    assert json.loads((student.model_dir / "tagger.json").read_text())["config"]["teacher"] == str(teacher.model_dir)
    texts = [posting_text(p) for p in synthetic_postings(4, seed=9)]
    t_probs = KeywordTagger.load(teacher.model_dir, device="cpu").word_probabilities(texts)
    s_probs = KeywordTagger.load(student.model_dir, device="cpu").word_probabilities(texts)
    t_lab = np.concatenate([t.argmax(-1).ravel() for t in t_probs])
    s_lab = np.concatenate([s.argmax(-1).ravel() for s in s_probs])
    keyword = t_lab > 0  # where the teacher sees a keyword (B or I): all-O agreement would be trivial
    assert keyword.sum() >= 10 and np.mean(s_lab[keyword] == t_lab[keyword]) >= 0.8, np.mean(s_lab[keyword] == t_lab[keyword])
    with pytest.raises(ValueError, match="linear heads"):
        tiny_cfg(tiny_bert_dir, variant="crf", teacher=str(teacher.model_dir))


def test_an_ensemble_of_one_is_the_tagger(tiny_bert_dir, tmp_path):
    """``ensemble_extract`` decodes the mean distribution; with one tagger it gives that tagger's keywords."""
    from common.keywords.tagger import ensemble_extract

    res = train_tagger(tiny_cfg(tiny_bert_dir, max_steps=30), synthetic_postings(12), None, tmp_path / "m",
                       progress=False)
    tagger = KeywordTagger.load(res.model_dir, device="cpu")
    texts = [posting_text(p) for p in synthetic_postings(3, seed=4)] + ["we need python, sql.\nand java"]
    single = tagger.extract(texts)
    assert any(single)
    assert [[(k.start, k.end, k.type) for k in ks] for ks in ensemble_extract([tagger], texts)] == \
        [[(k.start, k.end, k.type) for k in ks] for ks in single]
    with pytest.raises(ValueError):
        ensemble_extract([], texts)
