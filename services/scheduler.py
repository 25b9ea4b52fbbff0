"""Fair scheduling of keyword work: long postings cut into units of similar cost, served round-robin
across clients, so that one client's long postings cannot hold up another's short ones for long.

Why: the keyword service batches whatever reaches it first. A 100,000-character posting took 14.5 s
alone on 2 cores; sent whole, every request behind it waited for all of it, and two clients
sending such postings stalled a third client's ordinary postings for a minute. Here a text longer
than ``unit_chars`` is cut at line ends (keywords never cross a line) into units of at most about
``unit_chars`` characters, and a dispatcher hands the model service batches of at most
``batch_chars`` characters of units taken one per client in turn, with at most
``max_batches_in_flight`` batches outstanding. A short posting that
arrives behind a long one waits for at most the batches already in flight plus one round, not for
the whole long posting. A request whose client has gone (its task cancelled) leaves the queue.

Why two sizes: what a newcomer waits behind is the work in flight, so fairness wants little of it,
while one client alone wants its whole posting in one call (a 3,300-character posting cut into two
calls one after the other took 41 % longer). So while only one client has work queued, batches are
``batch_chars`` with ``max_batches_in_flight`` outstanding; as soon as several clients have work
queued, ``shared_batch_chars`` with one outstanding (the measured fairness settings: docs/serving.md).
A client counts as competing for ``linger`` seconds after its last unit is answered: a client that
sends its next posting as soon as it has the answer leaves a gap of milliseconds, and big calls
dispatched in that gap were what the next newcomer waited behind.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any



def _cut(window: str, floor: int) -> int:
    """Where to end a unit inside ``window``: after its last line end, else after its last sentence
    end, else after its last space, as long as that is past ``floor``; else at the window's end."""
    for mark in ("\n", ". ", " "):
        at = window.rfind(mark) + len(mark)
        if at > floor:
            return at
    return len(window)


def split_units(text: str, unit_chars: int) -> list[tuple[int, str]]:
    """``text`` as ``(offset, unit)`` pieces of at most ``unit_chars`` characters (see ``_cut``); the
    pieces put together are the text again."""
    units: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > unit_chars:
        cut = _cut(text[start : start + unit_chars], unit_chars // 4)
        units.append((start, text[start : start + cut]))
        start += cut
    units.append((start, text[start:]))
    return units


@dataclass
class _Unit:
    client: str
    text: str
    future: asyncio.Future


class FairScheduler:
    """Round-robin over clients of units of work for ``run_batch`` (a list of texts -> a list of results)."""

    def __init__(self, run_batch: Callable[[list[str]], Awaitable[list[Any]]], batch_chars: int = 4_000,
                 max_batches_in_flight: int = 2, shared_batch_chars: int | None = None, linger: float = 1.0) -> None:
        self.run_batch = run_batch
        self.batch_chars = batch_chars
        self.max_batches_in_flight = max_batches_in_flight
        self.shared_batch_chars = shared_batch_chars or batch_chars
        self.linger = linger
        self._recent: dict[str, float] = {}  # client -> until when it still counts as competing
        self.queues: OrderedDict[str, deque[_Unit]] = OrderedDict()
        self.in_flight = 0
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task | None = None

    async def submit(self, client: str, texts: list[str]) -> list[Any]:
        """The results of ``texts`` (in order), each run as one unit in the client's turn."""
        loop = asyncio.get_running_loop()
        units = [_Unit(client, t, loop.create_future()) for t in texts]
        self.queues.setdefault(client, deque()).extend(units)
        self._start()
        try:
            return list(await asyncio.gather(*(u.future for u in units)))
        except asyncio.CancelledError:  # the client went away: its units still queued are dropped
            for u in units:
                u.future.cancel()
            raise

    def pending(self) -> int:
        return sum(1 for q in self.queues.values() for u in q if not u.future.done())

    def _start(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def _contended(self) -> bool:
        """Several clients have live work queued, or had an answer within ``linger`` seconds."""
        now = asyncio.get_running_loop().time()
        self._recent = {c: t for c, t in self._recent.items() if t > now}
        active = {c for c, q in self.queues.items() if any(not u.future.done() for u in q)} | set(self._recent)
        return len(active) > 1

    def _limits(self) -> tuple[int, int]:
        """(characters per batch, batches in flight): the shared ones while clients compete."""
        if self._contended():
            return self.shared_batch_chars, 1
        return self.batch_chars, self.max_batches_in_flight

    def _next_batch(self, limit: int) -> list[_Unit]:
        """Live units, one per client in turn, up to ``limit`` characters (at least one unit);
        clients rotate between batches, so the next batch starts with the next client."""
        batch: list[_Unit] = []
        size = 0
        while self.queues:
            progressed = False
            for client in list(self.queues):
                queue = self.queues[client]
                while queue and queue[0].future.done():  # cancelled: its client has gone
                    queue.popleft()
                if not queue:
                    del self.queues[client]
                    continue
                if batch and size + len(queue[0].text) > limit:
                    return batch
                unit = queue.popleft()
                batch.append(unit)
                size += len(unit.text)
                progressed = True
                self.queues.move_to_end(client)
            if not progressed:
                break
        return batch

    async def _dispatch(self) -> None:
        assert self._wake is not None
        while True:
            while True:
                chars, most_in_flight = self._limits()
                if self.in_flight >= most_in_flight:
                    break
                batch = self._next_batch(chars)
                if not batch:
                    break
                self.in_flight += 1
                asyncio.get_running_loop().create_task(self._run(batch))
            if not self.queues and self.in_flight == 0:
                return
            self._wake.clear()
            await self._wake.wait()

    async def _run(self, batch: list[_Unit]) -> None:
        try:
            results = await self.run_batch([u.text for u in batch])
            for u, r in zip(batch, results, strict=True):
                if not u.future.done():
                    u.future.set_result(r)
        except Exception as exc:  # noqa: BLE001  (the callers get the error, the dispatcher goes on)
            for u in batch:
                if not u.future.done():
                    u.future.set_exception(exc)
        finally:
            until = asyncio.get_running_loop().time() + self.linger
            for u in batch:
                self._recent[u.client] = until
            self.in_flight -= 1
            assert self._wake is not None
            self._wake.set()


def merge_units(pieces: list[tuple[int, str]], results: list[list[Any]],
                shift: Callable[[Any, int], Any]) -> list[Any]:
    """One text's results from its units' results: each shifted by its unit's offset."""
    return list(itertools.chain.from_iterable([shift(r, off) for r in res] for (off, _), res in zip(pieces, results,
                                                                                                     strict=True)))
