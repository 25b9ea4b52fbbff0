"""The ESCO loader on the real files: codes stay strings, groups are lists, splits agree with the group table."""

from __future__ import annotations

from common.data import esco


def test_esco_splits_and_groups(shared_data):
    d = shared_data / "esco"
    train = esco.load_skills("train", d)
    dev = esco.load_skills("dev", d)
    groups = esco.load_groups(d)
    assert len(train) == 10944 and len(dev) == 1314
    assert set(train["uri"]).isdisjoint(dev["uri"])
    codes = dict(zip(groups["code"], groups["level"]))
    assert "00" in codes and codes["061"] == 2  # leading zeros kept
    l1 = {c for cs in train["groups_l1"] for c in cs}
    l2 = {c for cs in train["groups_l2"] for c in cs}
    assert len(l1) == 27 and 125 <= len(l2) <= 131
    assert all(codes.get(c) == 1 for c in l1) and all(codes.get(c) == 2 for c in l2)
    assert {c for cs in dev["groups_l2"] for c in cs} <= l2
    # about a quarter of the skills sit in more than one level-2 group
    multi = (train["groups_l2"].map(len) > 1).mean()
    assert 0.15 < multi < 0.35
    assert (train["text"].str.len() > 0).all()


def test_missing_folder_raises_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(esco.EscoMissingError, match="skills_dev.csv"):
        esco.load_skills("dev", tmp_path)
