"""The gRPC server (``jobskills.v1.JobSkills``): a typed front of the HTTP API, not a second copy of it.

Every RPC is one call to the HTTP API service (``ServingConfig.rest_url``), so gRPC traffic gets
exactly what REST traffic gets, from the one place that does it: validation and limits, the API
key (metadata ``x-api-key`` becomes the ``X-API-Key`` header), the request log that drift
monitoring reads (records carry ``transport: grpc``), the Prometheus metrics
(``jobskills_requests_total{transport="grpc"}``) and the models, which stay loaded once, in the
model services. The cost is one loopback HTTP hop per call (``benchmarks/serving.py --grpc``
measures it).

Beyond the relay:

- ``grpc.health.v1``: ``""`` and ``jobskills.v1.JobSkills`` are SERVING while the API's
  ``/readyz`` answers 200 (polled every ``grpc_health_interval_s``), NOT_SERVING otherwise;
- server reflection (``grpcurl`` needs no ``.proto``);
- deadlines: the time the client has left bounds the HTTP call; past it the answer is
  DEADLINE_EXCEEDED and the HTTP request is dropped;
- status codes: bad input INVALID_ARGUMENT with REST's sentence, a missing model UNAVAILABLE,
  an unreadable message INVALID_ARGUMENT; an unexpected fault INTERNAL, never UNKNOWN;
- ``ExtractStream``: many postings in one request, validated up front, sent to the API in batches
  of its ``max_batch_items``, one answer per posting as its batch comes back.

Run it with ``jobskills serve --grpc-port 50051`` (with the HTTP API) or, beside an API that is
already up, ``jobskills serve-grpc``; containers run ``python -m services.rpc``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import httpx
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.config import ServingConfig
from services.rpc.convert import UNARY_ENDPOINTS, error_message, grpc_code, response_message, rest_body

try:
    from jobskills.v1 import jobskills_pb2 as pb
except ModuleNotFoundError as exc:  # the generated modules are made by pip install, not committed
    raise ImportError(
        "jobskills/v1/jobskills_pb2.py is missing: it is generated from jobskills.proto when the project is "
        "installed; run `pip install -e .` in the repository") from exc

logger = logging.getLogger("jobskills.grpc")

SERVICE = pb.DESCRIPTOR.services_by_name["JobSkills"]
SERVICE_NAME = SERVICE.full_name  # jobskills.v1.JobSkills
TRANSPORT_HEADER = "x-jobskills-transport"  # read by services.api._transport
DEADLINE_MARGIN_S = 0.05


class BadMessage:
    """A request whose bytes do not parse as its message (e.g. a string that is not UTF-8)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parser(cls: type[Message]) -> Callable[[bytes], Message | BadMessage]:
    """A deserializer that never raises: grpcio would answer a raising one with UNKNOWN."""

    def parse(raw: bytes) -> Message | BadMessage:
        try:
            return cls.FromString(raw)
        except (DecodeError, ValueError) as exc:
            return BadMessage(f"the request is not a valid {cls.DESCRIPTOR.full_name} message: {exc}")

    return parse


class JobSkillsGateway:
    """The ``JobSkills`` RPCs, each answered by one call to the HTTP API."""

    def __init__(self, config: ServingConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.rest_url = config.rest_url.rstrip("/")
        self.http = http or httpx.AsyncClient(
            base_url=self.rest_url, timeout=config.timeout_s,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))

    async def aclose(self) -> None:
        await self.http.aclose()

    # ---- the HTTP call ----------------------------------------------------------------------

    def _headers(self, context: grpc.aio.ServicerContext) -> dict[str, str]:
        headers = {TRANSPORT_HEADER: "grpc"}
        for key, value in context.invocation_metadata() or ():
            if key.lower() == "x-api-key" and isinstance(value, str):
                headers["X-API-Key"] = value
        return headers

    async def call(self, path: str, body: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
        """POST ``body`` to ``path`` within the client's deadline; a non-200 answer aborts the RPC
        with the mapped status and the API's sentence."""
        remaining = context.time_remaining()
        # a little under the client's deadline, so that it gets this side's sentence, not a bare
        # "Deadline Exceeded" from its own timer
        budget = self.config.timeout_s if remaining is None else min(remaining - DEADLINE_MARGIN_S, self.config.timeout_s)
        if budget <= 0:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call started")
        try:
            async with asyncio.timeout(budget):
                r = await self.http.post(path, json=body, headers=self._headers(context))
        except (TimeoutError, httpx.TimeoutException):
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                f"no answer from the API within the deadline ({budget:.1f} s)")
        except httpx.TransportError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the HTTP API at {self.rest_url} is unreachable: {exc}")
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.status_code != 200:
            await context.abort(grpc_code(r.status_code), error_message(r.status_code, data))
        if not isinstance(data, dict):
            await context.abort(grpc.StatusCode.INTERNAL, f"the HTTP API answered {path} with a body that is not JSON")
        return data

    # ---- RPCs ------------------------------------------------------------------------------

    async def unary(self, rpc: str, out_cls: type[Message], request: Message,
                    context: grpc.aio.ServicerContext) -> Message:
        data = await self.call(UNARY_ENDPOINTS[rpc], rest_body(rpc, request), context)
        return response_message(rpc, data, out_cls())

    async def extract_stream(self, request: Message, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        postings = list(request.postings)
        if problem := self.stream_problem(postings):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        size = await self.batch_size(context)
        for first in range(0, len(postings), size):
            chunk = postings[first:first + size]
            body = {"texts": [p.text for p in chunk]}
            if request.HasField("with_skills"):
                body["with_skills"] = request.with_skills
            data = await self.call("/extract_batch", body, context)
            occupations = data.get("occupations") or [None] * len(chunk)
            skills = data.get("skills") or [None] * len(chunk)
            for i, (posting, keywords, occ, sk) in enumerate(zip(chunk, data.get("results", []), occupations, skills,
                                                                 strict=True)):
                yield response_message("ExtractStream", {
                    "id": posting.id, "index": first + i, "keywords": keywords, "occupations": occ, "skills": sk,
                    "model_tag": data.get("model_tag"), "model": data.get("model")}, pb.ExtractStreamResponse())

    def stream_problem(self, postings: list[Message]) -> str | None:
        """Why the postings of an ExtractStream are refused, before any is sent to the model: the
        same text rules as REST (``services.schemas.check_text``), and the stream's own limit."""
        from services.schemas import check_text

        if not postings:
            return "postings is empty"
        if len(postings) > self.config.grpc_max_stream_postings:
            return (f"the stream has {len(postings)} postings; the limit is {self.config.grpc_max_stream_postings} "
                    "(JOBSKILLS_SERVE_GRPC_MAX_STREAM_POSTINGS)")
        for i, p in enumerate(postings):
            try:
                check_text(p.text)
            except ValueError as exc:
                return f"postings[{i}] (id {p.id!r}): {exc}"
        return None

    async def batch_size(self, context: grpc.aio.ServicerContext) -> int:
        """The API's ``max_batch_items`` (from ``/status``), so each batch passes its limit."""
        status = await self.call("/status", {}, context)
        return max(1, int(status.get("max_batch_items") or 1))

    async def ready(self) -> bool:
        try:
            return (await self.http.get("/readyz", timeout=5)).status_code == 200
        except httpx.HTTPError:
            return False

    # ---- wiring ----------------------------------------------------------------------------

    def handler(self) -> grpc.GenericRpcHandler:
        """Method handlers for every RPC of the service descriptor (the generated code's names and
        message types), with deserializers that cannot raise."""
        handlers = {}
        for method in SERVICE.methods:
            in_cls = getattr(pb, method.input_type.name)
            out_cls = getattr(pb, method.output_type.name)
            kw = {"request_deserializer": _parser(in_cls), "response_serializer": out_cls.SerializeToString}
            if method.server_streaming:
                handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                    _streaming(method.name, self.extract_stream), **kw)
            else:
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    _unary(method.name, functools.partial(self.unary, method.name, out_cls)), **kw)
        return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


def _unary(rpc: str, fn: Callable[[Message, Any], Awaitable[Message]]) -> Callable[..., Awaitable[Message]]:
    async def handle(request: Message | BadMessage, context: grpc.aio.ServicerContext) -> Message:
        if isinstance(request, BadMessage):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        try:
            return await fn(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001  (a fault of ours: INTERNAL with a reason, never UNKNOWN)
            await _internal(rpc, exc, context)

    return handle


def _streaming(rpc: str, fn: Callable[[Message, Any], AsyncIterator[Message]]) -> Callable[..., AsyncIterator[Message]]:
    async def handle(request: Message | BadMessage, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        if isinstance(request, BadMessage):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        try:
            async for answer in fn(request, context):
                yield answer
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001
            await _internal(rpc, exc, context)

    return handle


def _finished(context: grpc.aio.ServicerContext) -> bool:
    """The RPC is over (deadline passed, client cancelled): there is nobody left to answer."""
    remaining = context.time_remaining()
    return (remaining is not None and remaining <= 0) or context.done()


async def _internal(rpc: str, exc: Exception, context: grpc.aio.ServicerContext) -> None:
    """An unexpected fault: INTERNAL with the reason while the client waits; quiet once it is gone."""
    if _finished(context):
        logger.info("%s ended before its answer (deadline or cancel): %s", rpc, type(exc).__name__)
        raise asyncio.CancelledError  # grpcio's quiet path for an RPC the client has left
    logger.error("%s failed", rpc, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, f"{rpc} failed: {type(exc).__name__}: {exc}")


async def watch_readiness(gateway: JobSkillsGateway, servicer: health.aio.HealthServicer, interval_s: float) -> None:
    """Mirror the API's ``/readyz`` into grpc.health.v1 until cancelled."""
    serving = None
    while True:
        now = await gateway.ready()
        if now != serving:
            status = health_pb2.HealthCheckResponse.SERVING if now else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", SERVICE_NAME):
                await servicer.set(name, status)
            logger.info("health: %s (%s/readyz)", "SERVING" if now else "NOT_SERVING", gateway.rest_url)
            serving = now
        await asyncio.sleep(interval_s)


def build_server(config: ServingConfig, gateway: JobSkillsGateway) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """The server with the JobSkills handlers, health and reflection (not yet bound or started)."""
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", config.max_body_bytes),  # the REST body limit
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.so_reuseport", 0),  # a second server on a taken port must fail, not share it
    ])
    server.add_generic_rpc_handlers((gateway.handler(),))
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    return server, servicer


async def serve(config: ServingConfig, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT), then drain calls in flight for 5 s."""
    gateway = JobSkillsGateway(config)
    server, servicer = build_server(config, gateway)
    address = config.grpc_bind()
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"could not listen on {address} for gRPC: {exc}") from None
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    await servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    host = address.rsplit(":", 1)[0]
    logger.info("gRPC %s on %s:%d, answering through the HTTP API at %s", SERVICE_NAME, host, port, gateway.rest_url)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    watcher = asyncio.create_task(watch_readiness(gateway, servicer, config.grpc_health_interval_s))
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        await servicer.enter_graceful_shutdown()
        await server.stop(grace=5)
        await gateway.aclose()


def main() -> None:
    """``python -m services.rpc``: settings from ``JOBSKILLS_SERVE_*`` (port, REST URL)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per relayed call otherwise
    try:
        asyncio.run(serve(ServingConfig.load()))
    except OSError as exc:
        logger.error("%s", exc)
        raise SystemExit(2) from None
