"""Model folders saved by earlier code keep loading and give the same answers.

``tests/fixtures/saved_models_v1`` holds a tiny tagger and a tiny group model written by the code
before ``keywords/tagger.py`` and ``groups/model.py`` were split into rooms (tagger format 1,
group model format 1, whose pickle names ``common.groups.model._Masked``), with the answers
they gave then in ``expected.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "saved_models_v1"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


def test_a_format_1_tagger_loads_and_extracts_what_it_did(expected):
    from common.keywords.tagger import KeywordTagger

    tagger = KeywordTagger.load(FIXTURE / "tagger", device="cpu", backend="torch")
    assert tagger.meta["format"] == 1
    got = [[kw.model_dump() for kw in kws] for kws in tagger.extract(expected["texts"])]
    assert [[(k["start"], k["end"], k["type"]) for k in kws] for kws in got] == \
        [[(k["start"], k["end"], k["type"]) for k in kws] for kws in expected["keywords"]]
    assert got[0][0]["score"] == pytest.approx(expected["keywords"][0][0]["score"], abs=1e-4)


def test_a_format_1_group_model_loads_and_ranks_what_it_did(expected):
    from common.groups.model import GroupModel

    assert "format" not in json.loads((FIXTURE / "groups" / "group_model.json").read_text())
    model = GroupModel.load(FIXTURE / "groups", device="cpu")
    got = model.predict(expected["phrases"], level=2, top_k=2)
    for ranked, want in zip(got, expected["groups"], strict=True):
        assert [g.code for g in ranked] == [w["code"] for w in want]
        assert [g.score for g in ranked] == pytest.approx([w["score"] for w in want], abs=1e-4)


def test_a_group_model_saved_now_is_format_2_and_pickles_the_new_names(tmp_path):
    from common.groups.model import FORMAT, GroupModel

    folder = tmp_path / "groups"
    shutil.copytree(FIXTURE / "groups", folder)
    model = GroupModel.load(folder, device="cpu")
    model.save(folder)
    assert json.loads((folder / "group_model.json").read_text())["format"] == FORMAT == 2
    raw = (folder / "group_model.joblib").read_bytes()
    import zlib

    pickled = zlib.decompress(raw)  # joblib compress=3 is zlib
    assert b"common.groups.estimators" in pickled and b"_Masked" not in pickled
    assert GroupModel.load(folder).predict(["python"], level=2, top_k=1)[0][0].code == "T.1"


def test_a_folder_from_a_newer_format_is_refused_with_a_sentence(tmp_path):
    from common.keywords.tagger import KeywordTagger

    folder = tmp_path / "tagger"
    shutil.copytree(FIXTURE / "tagger", folder)
    meta = json.loads((folder / "tagger.json").read_text())
    (folder / "tagger.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ValueError, match="format 99, written by a newer jobskills"):
        KeywordTagger.load(folder, device="cpu", backend="torch")
