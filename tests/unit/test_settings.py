"""Settings resolve every path once, where they are read (``common.core.settings``)."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_threads_follow_the_setting_else_the_cores_given_to_the_process(monkeypatch):
    """One thread count for torch and onnxruntime: a command's own value, else JOBSKILLS_THREADS,
    else the process's CPU affinity (not the machine's core count); the old names are refused."""
    import os

    import torch

    from common.core.config import ConfigError
    from common.core.settings import cpu_threads, get_settings, use_threads

    monkeypatch.delenv("JOBSKILLS_THREADS", raising=False)
    get_settings.cache_clear()
    assert cpu_threads() == len(os.sched_getaffinity(0))
    assert cpu_threads(3) == 3
    monkeypatch.setenv("JOBSKILLS_THREADS", "1")
    get_settings.cache_clear()
    before = torch.get_num_threads()
    try:
        assert cpu_threads() == 1 and cpu_threads(2) == 2
        assert use_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.delenv("JOBSKILLS_THREADS")
    monkeypatch.setenv("JOBSKILLS_ONNX_THREADS", "2")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="JOBSKILLS_ONNX_THREADS"):
        get_settings()
    get_settings.cache_clear()
