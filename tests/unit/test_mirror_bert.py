"""Mirror-BERT pieces: span masking, InfoNCE, and a short adaptation run that saves a usable encoder."""

from __future__ import annotations

import json
import math
import random


def test_mask_spans_masks_one_inner_span_only():
    import torch

    from common.text.mirror_bert import _mask_spans

    ids = torch.tensor([[101, 5, 6, 7, 8, 9, 102, 0], [101, 5, 102, 0, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    out = _mask_spans(ids, mask, span=2, mask_id=103, rng=random.Random(0))
    assert (out[0] == 103).sum() == 2
    assert out[0, 0] == 101 and out[0, 6] == 102 and out[0, 7] == 0
    assert torch.equal(out[1], ids[1])  # one real token: left alone
    assert torch.equal(_mask_spans(ids, mask, 0, 103, random.Random(0)), ids)


def test_info_nce_is_low_for_matching_views():
    import torch

    from common.text.mirror_bert import info_nce

    a = torch.eye(8)
    assert float(info_nce(a, a, 0.05)) < 0.01
    assert float(info_nce(a, a.roll(1, dims=0), 0.05)) > 5


def test_short_run_saves_a_loadable_encoder(tiny_bert_dir, tmp_path):
    from common.text.embeddings import embed_texts
    from common.text.mirror_bert import INFO_FILE, MirrorConfig, train_mirror_bert

    strings = ["write python code", "java developer", "sql data", "cloud testing", "team management",
               "software design", "strong communication", "project work"]
    res = train_mirror_bert(MirrorConfig(encoder=str(tiny_bert_dir), batch_size=4, epochs=1, span_mask=2),
                            strings, tmp_path / "mirror", progress=False)
    assert res.steps == 2 and math.isfinite(res.final_loss)
    info = json.loads((tmp_path / "mirror" / INFO_FILE).read_text())
    assert info["strings"] == 8 and info["seconds"] > 0
    before = embed_texts(strings, tiny_bert_dir, use_cache=False)
    after = embed_texts(strings, tmp_path / "mirror", use_cache=False)
    assert after.shape == before.shape and abs(after - before).max() > 0  # weights moved
