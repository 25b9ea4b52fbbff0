"""Admission control in front of the model work: a bound on each client's work in flight and on
everyone's, answered with a sentence and ``Retry-After`` instead of a queue that never drains.

Why: one client sending 100,000-character postings could fill the model services' queues so that
everyone else's ordinary postings waited a minute or got BentoML's bare 503 ("An unexpected error
has occurred"). Work is counted in characters of request body (the model's cost grows with the
text), per client (its API key when it sends one, else its address):

* a client over ``client_max_inflight_chars`` gets **429** with ``Retry-After``;
* a request that would take everyone past ``max_inflight_chars`` gets **503** with ``Retry-After``;
* a 503 the services below answer without a reason (BentoML's generic body) is rewritten to say
  that the service is overloaded, with ``Retry-After``.

``Retry-After`` is the time the work ahead needs at the throughput measured so far (an
exponentially weighted mean of characters per second of finished requests), at least 1 s.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.guard import Message, Receive, Scope, Send, json_error, replay

GENERIC_ERROR = b"unexpected error"


@dataclass
class Budget:
    """Characters of work in flight, per client and in all, and the measured throughput."""

    client_limit: int
    total_limit: int
    chars_per_s: float = 2_000.0  # a cautious start (about 400 words/s); replaced by measurements
    in_flight: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.in_flight.values())

    def retry_after(self, chars: int) -> int:
        """Seconds until ``chars`` characters of work ahead are likely done."""
        return max(1, min(120, math.ceil(chars / max(self.chars_per_s, 1.0))))

    def admit(self, client: str, cost: int) -> tuple[int, str, int] | None:
        """Reserve ``cost`` for ``client``; or ``(status, sentence, retry_after_s)`` when it may not start now.
        A request alone larger than a budget is admitted when nothing else of that budget runs, so
        the largest allowed posting always gets through."""
        mine = self.in_flight.get(client, 0)
        if mine and mine + cost > self.client_limit:
            wait = self.retry_after(mine)
            return 429, (f"this client already has {mine:,} characters of work in flight (limit {self.client_limit:,} "
                         f"per client); retry after {wait} s, or wait for an answer first"), wait
        total = self.total
        if total and total + cost > self.total_limit:
            wait = self.retry_after(total)
            return 503, (f"the service is at capacity ({total:,} characters of work in flight from all clients, "
                         f"limit {self.total_limit:,}); retry after {wait} s"), wait
        self.in_flight[client] = mine + cost
        return None

    def release(self, client: str, cost: int, seconds: float) -> None:
        left = self.in_flight.get(client, 0) - cost
        if left > 0:
            self.in_flight[client] = left
        else:
            self.in_flight.pop(client, None)
        if seconds > 0 and cost >= 200:  # tiny requests measure overheads, not throughput
            self.chars_per_s = 0.8 * self.chars_per_s + 0.2 * (cost / seconds)


def client_key(scope: Scope) -> str:
    """The API key (hashed) when the request carries one, else the client's address."""
    for k, v in scope.get("headers", []):
        if k.lower() == b"x-api-key" and v:
            return "key:" + hashlib.sha256(v).hexdigest()[:16]
    client = scope.get("client") or ("?", 0)
    return f"addr:{client[0]}"


class Admission:
    """ASGI middleware: admit POSTs to ``paths`` within the ``Budget``; say why when not."""

    def __init__(self, app: Any, paths: Iterable[str], client_max_inflight_chars: int, max_inflight_chars: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.budget = Budget(client_max_inflight_chars, max_inflight_chars)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        body, more = await _read(receive)
        if more is None:  # the client went away before sending its request
            return
        client, cost = client_key(scope), max(1, len(body))
        refused = self.budget.admit(client, cost)
        if refused is not None:
            status, sentence, wait = refused
            await _answer(send, status, sentence, str(wait))
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, replay(body, receive), _explain_overload(send, self.budget))
        finally:
            self.budget.release(client, cost, time.perf_counter() - t0)


async def _read(receive: Receive) -> tuple[bytes, bool | None]:
    """The whole request body; ``(b"", None)`` when the client disconnected."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _explain_overload(send: Send, budget: Budget) -> Send:
    """``send`` that turns a 503 with BentoML's generic body into one that says what happened."""
    held: Message | None = None

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message.get("status") == 503:
            held = message
            return
        if held is not None and message["type"] == "http.response.body":
            start, held = held, None
            body = message.get("body", b"")
            if GENERIC_ERROR in body.lower() and not message.get("more_body", False):
                retry = str(budget.retry_after(budget.total))
                sentence = ("the model services are overloaded: the work queued ahead of this request could not "
                            f"finish within the latency budget; retry after {retry} s")
                await _answer(send, 503, sentence, retry)
                return
            await send(start)
        await send(message)

    return wrapped


async def _answer(send: Send, status: int, sentence: str, retry_after: str) -> None:
    await json_error(send, status, sentence, [(b"retry-after", retry_after.encode())])
