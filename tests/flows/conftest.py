"""Fixtures for flow tests: one temporary Prefect API (SQLite) for the whole test session.

``prefect_test_harness`` starts a throwaway local Prefect server once (about 5-10 s) and points
every flow run in this session at it, so flow tests never touch a user's Prefect home or a
configured server. It is ``autouse`` for everything under ``tests/flows``.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    """A session-wide temporary Prefect backend; yields nothing, just has to be active."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
