"""ASGI middleware that turns malformed request bodies into clear 4xx answers.

BentoML parses bodies itself and maps pydantic errors to 400, but some malformed inputs
(multipart bodies with binary parts, a body too large for memory) would reach code that can only
fail with 500. This guard checks, before BentoML sees the request, that a POST to an API route
has a JSON content type, is not larger than the limit, is UTF-8 and parses as JSON; the body is
then replayed unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPES = ("application/json", "")


class BodyGuard:
    """Reject non-JSON, oversized, non-UTF-8 or unparsable POST bodies on ``paths``."""

    def __init__(self, app: Any, paths: Iterable[str], max_body_bytes: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES:
            await json_error(send, 415, f"send a JSON body (Content-Type: application/json), not {media_type!r}")
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await json_error(send, 413, f"request body has {declared} bytes; the limit is {self.max_body_bytes}")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await json_error(send, 413, f"request body is larger than the limit of {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            problem = body_problem(body)
            if problem:
                await json_error(send, 400, problem)
                return

        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then passes on what comes after."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def body_problem(body: bytes) -> str | None:
    """Why ``body`` is not acceptable JSON text, or None when it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"request body is not valid UTF-8 (bad byte at position {exc.start})"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return "request body is nested too deeply"
    return None


async def json_error(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """A JSON ``{"error": message}`` answer (with any extra ``headers``, e.g. ``Retry-After``)."""
    payload = json.dumps({"error": message}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})
