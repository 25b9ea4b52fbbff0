"""Calls from the API service to the model services: a deadline per call and bounded retries.

Why: BentoML 1.4's dependency client (``_bentoml_impl.client.proxy2.SessionManager``) replaces
its aiohttp session every ``runner_connection.max_requests`` calls (100 by default) and closes
the old one while other calls are still in flight on it. Those calls fail with "Server
disconnected", and once in a while one of them never returns at all: the model service logs a
200, but the API never gets the answer and waits for the whole traffic timeout (120 s), then
answers 504. ``benchmarks/serving.py`` ran into this at 8 clients on 2026-11-30. The model
services now set a large ``runner_connection`` (``services.config``), so the session is seldom
replaced. Every call also gets a deadline and is retried when its connection drops or the
deadline passes. Every dependency call here is a prediction or a lookup with no side effect,
so retrying is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import aiohttp
from bentoml.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

DROPPED: tuple[type[BaseException], ...] = (aiohttp.ClientConnectionError, ConnectionError)


class DependencyUnavailable(ServiceUnavailable):
    """A model service did not answer after every attempt; BentoML turns this into an HTTP 503."""

    error_code = HTTPStatus.SERVICE_UNAVAILABLE


async def call_dependency(call: Callable[..., Awaitable[Any]], *args: Any, attempts: int = 3,
                          timeout_s: float | None = None, what: str = "model service", **kwargs: Any) -> Any:
    """``await call(*args, **kwargs)``. A dropped connection or a call that runs past
    ``timeout_s`` is retried, up to ``attempts`` tries in all. When every try fails, raises
    ``DependencyUnavailable`` with the reason.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    reason = ""
    for attempt in range(attempts):
        try:
            if timeout_s:
                return await asyncio.wait_for(call(*args, **kwargs), timeout_s)
            return await call(*args, **kwargs)
        except TimeoutError as exc:  # asyncio.wait_for's deadline (and aiohttp's own timeouts)
            reason = f"no answer within {timeout_s:g} s" if timeout_s else f"timed out ({exc})"
        except DROPPED as exc:
            reason = f"connection dropped ({exc})"
        if attempt < attempts - 1:
            logger.warning("%s call: %s; retrying (%d/%d)", what, reason, attempt + 2, attempts)
            await asyncio.sleep(0.05 * (attempt + 1))
    raise DependencyUnavailable(f"the {what} did not answer after {attempts} attempts: {reason}")
