"""Settings resolve every path once, where they are read (``common.core.settings``)."""

from __future__ import annotations

from pathlib import Path

from common.core.settings import Settings, get_settings


def test_relative_paths_become_absolute_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for k in ("JOBSKILLS_DATA_DIR", "JOBSKILLS_SHARED_DATA_DIR", "JOBSKILLS_ENCODER"):
        monkeypatch.delenv(k, raising=False)
    s = Settings()
    assert s.data_dir == tmp_path / ".jobskills" and s.data_dir.is_absolute()
    assert s.shared_data_dir == (tmp_path / ".." / "shared" / "data").resolve()
    # every derived folder is absolute too (Great Expectations refuses relative Data Docs folders)
    for p in (s.db_path, s.models_dir, s.reports_dir, s.logs_dir, s.feedback_dir, s.evidently_workspace,
              s.skillspan_dir, s.esco_dir):
        assert Path(p).is_absolute(), p
    # once resolved, a later chdir does not move the data folder
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert s.data_dir == tmp_path / ".jobskills"


def test_env_paths_and_a_local_encoder_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "enc").mkdir()
    monkeypatch.setenv("JOBSKILLS_DATA_DIR", "~/js-data")
    monkeypatch.setenv("JOBSKILLS_ENCODER", "enc")
    get_settings.cache_clear()
    try:
        s = get_settings()
        assert s.data_dir == (Path.home() / "js-data").resolve()
        assert s.encoder_path == str(tmp_path / "enc")
    finally:
        get_settings.cache_clear()
    monkeypatch.setenv("JOBSKILLS_ENCODER", "not-a-folder-here")
    assert Settings().encoder == "not-a-folder-here"  # left as given: the loader says it is missing
