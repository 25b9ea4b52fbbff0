"""The registry: gates refuse worse or broken candidates, rollback restores the previous champion."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from common import registry
from common.registry import GateConfig, RegistryError


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    return tmp_path / "bentoml"


def _model(tmp_path: Path, name: str, content: str = "weights") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "model.bin").write_text(content)
    return d


def _m(f1: float) -> dict:
    return {"span": {"overall": {"f1": f1, "precision": f1, "recall": f1}}, "n": 10}


P = "span.overall.f1"
META = {"data_version": "sha256:abc", "code_version": "git:123", "params": {"lr": 1e-4, "encoder": None}}


def test_first_candidate_becomes_champion_with_metadata(home, tmp_path):
    d = registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.4), P, metadata=META)
    assert d.promoted and d.tag and d.champion_before is None
    champ = registry.champion("kw")
    assert champ is not None and champ.tag == d.tag
    assert (registry.champion_path("kw") / "model.bin").read_text() == "weights"
    assert champ.metadata["data_version"] == "sha256:abc" and champ.metadata["code_version"] == "git:123"
    assert champ.metadata["params"] == {"lr": 1e-4}  # None dropped: BentoML metadata takes basic types
    assert champ.metrics["span"]["overall"]["f1"] == 0.4
    assert str(champ.path).startswith(str(home))


def test_worse_or_equal_or_within_margin_is_refused(home, tmp_path):
    first = registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.5), P)
    worse = registry.register_and_gate("kw", _model(tmp_path, "b"), _m(0.45), P)
    equal = registry.register_and_gate("kw", _model(tmp_path, "c"), _m(0.5), P)
    small = registry.register_and_gate("kw", _model(tmp_path, "d"), _m(0.505), P, margin=0.01)
    for d in (worse, equal, small):
        assert not d.promoted and "does not beat" in d.reason and d.tag is None
    assert registry.champion("kw").tag == first.tag
    assert len(registry.list_models("kw")) == 1  # refused candidates never enter the store
    better = registry.register_and_gate("kw", _model(tmp_path, "e"), _m(0.52), P, margin=0.01)
    assert better.promoted and registry.champion("kw").tag == better.tag


def test_champion_rescored_on_new_dev_data_is_the_reference(home, tmp_path):
    registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.5), P)
    # the champion scores only 0.3 on today's dev set: a 0.4 candidate beats it
    d = registry.register_and_gate("kw", _model(tmp_path, "b"), _m(0.4), P, champion_metrics=_m(0.3))
    assert d.promoted and d.champion_value == 0.3


@pytest.mark.parametrize(
    "metrics, needle",
    [
        ({"span": {"overall": {"f1": math.nan}}}, "not finite"),
        ({"span": {"overall": {"f1": 1.7}}}, "out of range"),
        ({"other": 1.0}, "not found"),
        (_m(0.01), "below the floor"),
    ],
)
def test_sanity_checks_refuse(home, tmp_path, metrics, needle):
    d = registry.register_and_gate("kw", _model(tmp_path, "a"), metrics, P, gate=GateConfig(min_score=0.05))
    assert not d.promoted and needle in d.reason
    assert registry.champion("kw") is None


def test_empty_folder_and_failed_smoke_check_are_refused(home, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "missing or empty" in registry.register_and_gate("kw", empty, _m(0.5), P).reason

    def broken(path: Path) -> None:
        raise RuntimeError("cannot load weights")

    d = registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.5), P, smoke_check=broken)
    assert not d.promoted and "cannot load weights" in d.reason and d.checks["smoke"] is False


def test_rollback_restores_previous_champion_and_promote_by_hand(home, tmp_path):
    a = registry.register_and_gate("kw", _model(tmp_path, "a", "A"), _m(0.5), P).tag
    b = registry.register_and_gate("kw", _model(tmp_path, "b", "B"), _m(0.6), P).tag
    c = registry.register_and_gate("kw", _model(tmp_path, "c", "C"), _m(0.7), P).tag
    assert (registry.champion_path("kw") / "model.bin").read_text() == "C"
    assert registry.rollback("kw").tag == b
    assert (registry.champion_path("kw") / "model.bin").read_text() == "B"
    assert registry.rollback("kw").tag == a
    with pytest.raises(RegistryError):
        registry.rollback("kw")
    assert registry.promote(c).tag == c and registry.champion("kw").tag == c
    listed = registry.list_models("kw")
    assert [m.champion for m in listed].count(True) == 1 and {m.tag for m in listed} == {a, b, c}
    with pytest.raises(RegistryError):
        registry.promote("kw:doesnotexist")


def test_state_survives_processes_and_follows_bentoml_home(home, tmp_path, monkeypatch):
    tag = registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.5), P).tag
    code = "from common import registry; print(registry.champion('kw').tag)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == tag
    state = json.loads((home / registry.STATE_FILE).read_text())
    assert state["kw"]["champion"] == tag
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "other"))
    assert registry.champion("kw") is None and registry.list_models() == []
    with pytest.raises(FileNotFoundError):
        registry.champion_path("kw")


class FolderStore:
    """A store that is only folders and a JSON index: the registry needs nothing else."""

    ROOT: Path

    def __init__(self) -> None:
        self.root = self.ROOT

    @property
    def home(self) -> Path:
        return self.root

    def _index(self) -> dict:
        path = self.root / "index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def list(self, name=None):
        from common.registry.store import StoredModel

        return [StoredModel(tag=t, name=t.split(":")[0], version=t.split(":")[1], path=self.root / t.replace(":", "/"),
                            metadata=m, created=m["_created"]) for t, m in self._index().items()
                if name is None or t.startswith(f"{name}:")]

    def get(self, tag):
        from common.registry.store import StoreError

        for m in self.list():
            if m.tag == tag:
                return m
        raise StoreError(tag)

    def save(self, name, model_dir, metadata, labels):
        import shutil

        index = self._index()
        tag = f"{name}:v{len(index) + 1}"
        shutil.copytree(model_dir, self.root / name / f"v{len(index) + 1}")
        index[tag] = {**metadata, "_created": f"{len(index):04d}"}
        (self.root / "index.json").write_text(json.dumps(index))
        return self.get(tag)


def test_the_registry_runs_on_any_store_that_follows_the_protocol(tmp_path, monkeypatch):
    """No BentoML: a folder store named by JOBSKILLS_MODEL_STORE gets champions, gates and rollback."""
    from common.core.settings import get_settings
    from common.registry.store import ModelStore, load_store

    FolderStore.ROOT = tmp_path / "store"
    monkeypatch.setattr(sys.modules[__name__], "FolderStore", FolderStore, raising=False)
    monkeypatch.setenv("JOBSKILLS_MODEL_STORE", f"{__name__}:FolderStore")
    get_settings.cache_clear()
    try:
        assert isinstance(load_store(), ModelStore)
        a = registry.register_and_gate("kw", _model(tmp_path, "a"), _m(0.4), P, metadata=META)
        b = registry.register_and_gate("kw", _model(tmp_path, "b"), _m(0.5), P, metadata=META)
        worse = registry.register_and_gate("kw", _model(tmp_path, "c"), _m(0.3), P, metadata=META)
        assert a.promoted and b.promoted and not worse.promoted
        assert registry.champion("kw").tag == b.tag == "kw:v2"
        assert (registry.champion_path("kw") / "model.bin").exists()
        assert registry.rollback("kw").tag == a.tag
        assert (FolderStore.ROOT / registry.STATE_FILE).exists()  # champion state lives in the store's home
        assert not (tmp_path / "bentoml").exists()
    finally:
        get_settings.cache_clear()


def test_a_bad_store_setting_is_one_sentence(monkeypatch):
    from common.core.settings import get_settings

    monkeypatch.setenv("JOBSKILLS_MODEL_STORE", "no_such_module:Store")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="model_store 'no_such_module:Store' cannot be loaded"):
            registry.champion("kw")
    finally:
        get_settings.cache_clear()
