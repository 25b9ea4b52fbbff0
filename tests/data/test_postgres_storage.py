"""The storage contract (tests/unit/test_storage.py) against a real PostgreSQL server."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from common.data.storage import Store

_spec = importlib.util.spec_from_file_location(
    "storage_contract", Path(__file__).resolve().parents[1] / "unit" / "test_storage.py"
)
_contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_contract)
for _name in dir(_contract):
    if _name.startswith("test_"):
        globals()[_name] = getattr(_contract, _name)


@pytest.fixture()
def store(postgres_url, settings_env, monkeypatch):
    monkeypatch.setenv("JOBSKILLS_STORAGE_URL", postgres_url)
    from common.core.settings import get_settings

    get_settings.cache_clear()
    with Store.open(get_settings()) as s:
        assert s.backend == "postgresql"
        yield s
    get_settings.cache_clear()


def test_postgres_store_is_shared_between_connections(store, postgres_url, settings_env):
    """Two clients of one server see each other's committed rows (the point of using PostgreSQL)."""
    from common.data.records import PostingRecord

    store.add_postings([PostingRecord(text="shared between workers")])
    other = settings_env.model_copy(update={"storage_url": postgres_url})
    with Store.open(other) as s2:
        assert s2.count("postings") == 1
        assert s2.add_postings([PostingRecord(text="shared between workers")]) == 0


def test_bad_storage_url_is_a_clear_error(settings_env):
    from common.data.storage import StorageError

    bad = settings_env.model_copy(update={"storage_url": "mysql://nope"})
    with pytest.raises(StorageError, match="unsupported storage_url"):
        Store.open(bad)
