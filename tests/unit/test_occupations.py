"""Occupations: the split rule, pseudo-postings, the ranker and the core/fringe classifier.

The real-data tests use ESCO's occupation files from ``../shared/data`` (skipped without them);
the model tests build on a tiny random BERT and a hand-made taxonomy (``tests/services/build_tiny_models``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))


@pytest.fixture(scope="module")
def esco_occupations():
    from common.data.esco import EscoMissingError
    from common.occupations.taxonomy import load_occupations

    try:
        return load_occupations()
    except EscoMissingError as exc:
        pytest.skip(f"ESCO occupation files absent: {exc}")


@pytest.fixture(scope="module")
def real_titles(esco_occupations):
    from common.occupations.titles import TitlesMissingError, load_titles

    try:
        return load_titles(esco_occupations)
    except TitlesMissingError as exc:
        pytest.skip(f"real job titles absent: {exc}")


@pytest.fixture(scope="module")
def esco_skills():
    from common.linking.taxonomy import load_taxonomy

    return load_taxonomy()


def test_split_rule_is_the_uri_hash_and_80_10_10(esco_occupations):
    import hashlib

    from common.occupations.taxonomy import split_of

    occ = esco_occupations.occupations
    assert len(occ) == 3039
    for uri, split in zip(occ["uri"], occ["split"], strict=True):
        b = hashlib.sha256(uri.encode()).digest()[0] % 10
        assert split == ("train" if b < 8 else "dev" if b == 8 else "test") == split_of(uri)
    shares = occ["split"].value_counts(normalize=True)
    assert 0.75 < shares["train"] < 0.85 and 0.07 < shares["dev"] < 0.13 and 0.07 < shares["test"] < 0.13


def test_no_test_occupation_in_any_fitting(esco_occupations, esco_skills, monkeypatch):
    """Every posting the ranker's weights are fitted on comes from a training occupation, and
    the core/fringe counts see training occupations only."""
    from common.occupations import training
    from common.occupations.importance import build_context

    seen: list[str] = []
    monkeypatch.setattr(training, "fit_weights", lambda r, posts, *a, **k: seen.extend(p.occupation_uri for p in posts)
                        or {"bias": 0.0})
    posts = training.pseudo_postings(esco_occupations, esco_skills, "train")
    training.fit_weights(None, posts, {})
    split = dict(zip(esco_occupations.occupations["uri"], esco_occupations.occupations["split"], strict=True))
    assert seen and {split[u] for u in seen} == {"train"}
    import numpy as np

    emb = np.zeros((len(esco_occupations), 4), dtype=np.float32)
    ctx = build_context(esco_occupations, {}, esco_skills.skills, emb, 3)
    assert {split[u] for u in ctx.train_uris} == {"train"}
    test_only = set(esco_occupations.relations.loc[esco_occupations.relations["occupation_uri"].map(split) == "test",
                                                   "skill_uri"])
    train_rel = esco_occupations.relations[esco_occupations.relations["occupation_uri"].map(split) == "train"]
    only_test = test_only - set(train_rel["skill_uri"])
    assert only_test and not (only_test & set(ctx.counts))  # a skill only test occupations list has no counts


def test_pseudo_postings_follow_the_recipe(esco_occupations, esco_skills):
    from common.occupations.pseudo import pseudo_postings

    posts = pseudo_postings(esco_occupations, esco_skills, "test")
    again = pseudo_postings(esco_occupations, esco_skills, "test", with_title=False)
    assert len(posts) == (esco_occupations.occupations["split"] == "test").sum()
    occ = esco_occupations.occupations.set_index("uri")
    index = esco_skills.exact_index()
    for p, q in zip(posts, again, strict=True):
        assert q.title is None and q.skills == p.skills  # the same skills with and without title
        assert p.title in (occ.at[p.occupation_uri, "alt_labels"] or [occ.at[p.occupation_uri, "label"]])
        assert p.held_out == p.title
        need = esco_occupations.skills_of(p.occupation_uri)
        own = set(need["essential"]) | set(need["optional"])
        outside = [n for n in p.skills if not set(index[" ".join(n.lower().split())]) & own]
        assert len(outside) >= 2  # two skills from elsewhere (a shared name may add one)


def test_title_of_takes_the_first_line_when_it_reads_as_a_title():
    from common.occupations.ranker import title_of

    assert title_of("Data Engineer\nWe need SQL.") == "Data Engineer"
    assert title_of("We are looking for someone who can build and run our pipelines every day in Python.\nx") is None
    assert title_of("whatever", "  Nurse  ") == "Nurse"


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir, tmp_path_factory):
    import build_tiny_models as b

    from common.occupations.config import ImportanceParams, OccupationConfig
    from common.occupations.model import OccupationModel
    from common.occupations.training import build_occupation_model

    out = tmp_path_factory.mktemp("occ") / "model"
    cfg = OccupationConfig(encoder=str(tiny_bert_dir), threads=1, negatives=5,
                           importance=ImportanceParams(n_estimators=20, neighbours=3))
    build_occupation_model(cfg, b.tiny_occupations(), b.tiny_taxonomy(), out_dir=out, progress=False)
    return OccupationModel.load(out)


def test_the_ranker_finds_the_occupation_of_its_skills(tiny_model):
    m = tiny_model
    uris = m.keyword_skills(["sql", "data", "sql data", "manage sql data"])
    assert all(uris)
    (res,) = m.analyze(["We need sql and data skills"], [uris], top_k=3)
    assert res.occupations[0].label == "data engineer"
    assert {s.label for s in res.occupations[0].essential} == {"sql", "data", "sql data", "manage sql data"}
    assert set(res.importance.values()) == {"essential"}
    # directionality: project skills move the posting to the project manager
    pm = m.keyword_skills(["project management", "management", "project", "manage project"])
    (res2,) = m.analyze(["Lead projects"], [pm], top_k=3)
    assert res2.occupations[0].label == "project manager"
    assert m.ranker.importance(res.occupations[0].uri, pm) == ["other"] * 4


def test_the_model_round_trips_and_reports_its_figures(tiny_model, tmp_path):
    from common.occupations.model import OccupationModel

    m = tiny_model
    assert {"dev_title", "test_title", "dev_no_title", "importance"} <= set(m.metrics)
    assert set(m.metrics["test_title"]) == {"ranker", "skill_overlap", "title_cosine"}
    m.save(tmp_path / "again")
    from common.pipeline.kinds import OCCUPATION_METRIC
    from common.registry import folder_metadata

    assert folder_metadata(tmp_path / "again") == {"primary_metric": OCCUPATION_METRIC,
                                                   "primary_value": m.metrics["dev_title"]["ranker"]["r_at_1"]}
    back = OccupationModel.load(tmp_path / "again")
    uris = m.keyword_skills(["python", "java"])
    assert back.analyze(["x"], [uris])[0].occupations == m.analyze(["x"], [uris])[0].occupations
    roles = back.classify_importance("A python developer writes python code", uris)
    assert [r.uri for r in roles] == uris and all(r.importance in ("essential", "optional") for r in roles)


def test_a_folder_of_another_format_is_refused(tiny_model, tmp_path):
    import json

    from common.occupations.model import MODEL_FILE, OccupationModel

    d = tiny_model.save(tmp_path / "m")
    meta = json.loads((d / MODEL_FILE).read_text())
    (d / MODEL_FILE).write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        OccupationModel.load(d)


def test_a_model_built_on_a_real_esco_slice_with_minilm_ranks_held_out_occupations(esco_occupations, esco_skills,
                                                                                     real_titles, tmp_path, settings_env):
    """60 real occupations (40 train, 10 dev, 10 test by the URI rule, those with the most real
    titles) with MiniLM: the fitted ranker finds the held-out occupations of their pseudo-postings
    at least as well as either baseline, the core/fringe classifier is measured on the test
    occupations' pairs, and the title encoder trained on the slice's training titles ranks its
    held-back real titles better than the plain cosine, with a confidence that is monotone."""
    from common.occupations.config import ImportanceParams, OccupationConfig, TitleConfig
    from common.occupations.model import OccupationModel
    from common.occupations.training import build_occupation_model

    occ = esco_occupations.occupations
    counts = real_titles["uri"].value_counts()
    occ = occ.assign(n_titles=occ["uri"].map(counts).fillna(0)).sort_values("n_titles", ascending=False, kind="stable")
    uris = [u for split, n in (("train", 40), ("dev", 10), ("test", 10)) for u in occ[occ["split"] == split]["uri"][:n]]
    sliced = esco_occupations.subset(uris)
    slice_uris = list(uris)
    cfg = OccupationConfig(threads=2, negatives=10, importance=ImportanceParams(n_estimators=50, neighbours=5),
                           titles=TitleConfig(max_steps=40))
    build_occupation_model(cfg, sliced, esco_skills, out_dir=tmp_path / "m", progress=False)
    m = OccupationModel.load(tmp_path / "m")
    test = m.metrics["test_title"]
    assert test["ranker"]["n"] == 10
    assert test["ranker"]["r_at_1"] >= max(test["title_cosine"]["r_at_1"], 0.8)
    assert m.metrics["test_no_title"]["ranker"]["r_at_5"] >= 0.8
    imp = m.metrics["importance"]["test"]
    assert imp["pairs"] > 100 and 0.0 < imp["classifier"]["f1_essential"] <= 1.0
    # a posting written as people write it: its title and a few of the occupation's skills by name
    target = sliced.occupations.iloc[0]
    need = sliced.skills_of(target["uri"])["essential"][:4]
    labels = dict(zip(esco_skills.skills["uri"], esco_skills.skills["label"], strict=True))
    text = target["label"].title() + "\n" + "\n".join(f"- {labels[u]}" for u in need if u in labels)
    uris = m.keyword_skills([labels[u] for u in need if u in labels])
    (res,) = m.analyze([text], [[u for u in uris if u]])
    assert res.title == target["label"].title() and res.occupations[0].uri == target["uri"]
    assert set(res.importance.values()) == {"essential"}
    # real titles: the slice's held-back test titles, title only
    titles = m.metrics["titles"]
    assert titles["own_encoder"] and (tmp_path / "m" / "title_encoder" / "config.json").exists()
    got, plain = titles["test"]["model"], titles["test"]["plain_cosine"]
    assert got["n"] == plain["n"] >= 50
    assert got["mrr"] > plain["mrr"] and got["r_at_1"] > plain["r_at_1"]
    # a confidence, not a raw probability: monotone in the raw score, in [0, 1], right more often when higher
    cal = m.ranker.calibration["title_only"]
    assert np.all(np.diff(cal["y"]) >= 0) and 0.0 <= cal["y"][0] <= cal["y"][-1] <= 1.0
    rows = titles["calibration_test"]
    assert sum(r["n"] for r in rows) == got["n"]
    assert rows[-1]["share_right"] >= rows[0]["share_right"]
    # the model answers a real title with the title encoder it saved, and says how sure it is
    test_title = real_titles[(real_titles["split"] == "test") & real_titles["uri"].isin(slice_uris)].iloc[0]
    (res,) = m.analyze([""], [[]], [test_title["text"]], top_k=3)
    assert [o.score for o in res.occupations] == sorted((o.score for o in res.occupations), reverse=True)
    assert all(0.0 <= o.score <= 1.0 for o in res.occupations)


def test_the_title_split_is_by_text_and_70_10_20(esco_occupations, real_titles):
    from common.occupations.titles import normalise_title, title_pairs, title_split

    shares = real_titles["split"].value_counts(normalize=True)
    assert 0.66 < shares["train"] < 0.74 and 0.08 < shares["calib"] < 0.12 and 0.17 < shares["test"] < 0.23
    by_text = real_titles.groupby(real_titles["text"].map(normalise_title))["split"].nunique()
    assert (by_text == 1).all()  # one text never sits on two sides
    assert title_split("Marketing Executive") == title_split("  marketing   EXECUTIVE ")
    train = real_titles[real_titles["split"] == "train"]
    pairs = title_pairs(train, esco_occupations)
    labels = set(esco_occupations.occupations["label"])
    assert all(b in labels for _, b in pairs)
    occ = esco_occupations.occupations
    train_alts = {(a, lab) for lab, alts, split in zip(occ["label"], occ["alt_labels"], occ["split"], strict=True)
                  if split == "train" for a in alts}
    from_titles = set(zip(train["text"], train["uri"].map(dict(zip(occ["uri"], occ["label"], strict=True))),
                          strict=True))
    # every pair is a training title or a training occupation's alternative label: no calib or
    # test title, no dev or test occupation's name is trained on
    assert set(pairs) <= from_titles | train_alts
