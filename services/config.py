"""Serving configuration: which models to serve, batching, GPUs, limits.

BentoML reads ``resources``, ``workers`` and batching parameters when the service classes are
defined, so these values are read from the environment (prefix ``JOBSKILLS_SERVE_``) or from a
YAML file named by ``JOBSKILLS_SERVE_CONFIG`` at that point. ``jobskills serve`` sets the
environment variables from its options, and tests use them to point the services at tiny models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1``."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServingConfig(BaseSettings):
    """How the BentoML services run; every field can be set with ``JOBSKILLS_SERVE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="JOBSKILLS_SERVE_", extra="forbid")

    keyword_model_dir: Path | None = Field(
        None, description="Serve this tagger folder instead of the registry champion (bypasses the store)."
    )
    keyword_model_tag: str | None = Field(
        None, description="Serve this BentoML model tag (name:version) instead of the champion."
    )
    keyword_tier: Literal["auto", "accurate", "fast"] = Field(
        "auto", description="Which keyword tier's champion serves: auto is the accurate tier when it has a "
        "champion, else the fast tier (`jobskills serve --tier`). A keyword folder or tag overrides it.")
    group_model_dir: Path | None = Field(None, description="Serve this skill-group model folder.")
    group_model_tag: str | None = Field(None, description="Serve this skill-group model tag.")
    linker_model_dir: Path | None = Field(None, description="Serve this ESCO linker folder.")
    linker_model_tag: str | None = Field(None, description="Serve this ESCO linker model tag.")
    occupation_model_dir: Path | None = Field(None, description="Serve this occupation model folder.")
    occupation_model_tag: str | None = Field(None, description="Serve this occupation model tag.")
    topic_model_dir: Path | None = Field(
        None, description="Topic model folder for /topics; default <data_dir>/models/topics."
    )
    gpus: Literal["auto"] | int = Field(
        "auto",
        description="GPUs per model service: 'auto' declares 1 when an NVIDIA driver is present, else none.",
    )
    workers: int = Field(1, ge=1, description="Worker processes per model service.")
    max_batch_size: int = Field(32, ge=1, description="Adaptive batching: most items in one model call.")
    max_latency_ms: int = Field(
        30_000,
        ge=10,
        description="Adaptive batching latency budget; requests that cannot meet it get 503, so keep it generous on CPU.",
    )
    timeout_s: int = Field(120, ge=1, description="Request timeout of every service.")
    dependency_timeout_s: float | None = Field(
        None, gt=0, description="Deadline for one call from the API service to a model service; a call past it "
        "is retried (services.retry). Default: half of timeout_s. Must be under timeout_s.")
    runner_max_requests: int = Field(
        1_000_000, ge=1, description="BentoML runner_connection.max_requests of the model services: the API's "
        "client session to a model service is replaced after this many calls, which breaks calls in flight.")
    runner_max_age_s: float = Field(
        86_400.0, gt=0, description="BentoML runner_connection.max_age of the model services (seconds).")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    unit_chars: int = Field(
        2_000, ge=500, description="Texts longer than this are cut at line ends into units of at most this many "
        "characters, scheduled one per client in turn (services.scheduler).")
    scheduler_batch_chars: int = Field(
        4_000, ge=500, description="Characters of units in one call of the keyword service while one client has "
        "work queued (at least one unit): its whole posting in one call (raise it on a GPU).")
    scheduler_batches_in_flight: int = Field(
        2, ge=1, description="Keyword-service calls outstanding at once while one client has work queued; while "
        "several have, one (raise it on a GPU).")
    scheduler_shared_batch_chars: int = Field(
        2_000, ge=500, description="Characters of units in one call while several clients have work queued: what a "
        "newcomer may wait behind (2,000 with one call in flight kept the fairness scenario's p95 within 3x).")
    client_max_inflight_chars: int = Field(
        200_000, ge=1_000, description="Characters of request body one client (API key, else address) may have in "
        "flight; more is answered 429 with Retry-After (services.admission). A single larger request is admitted "
        "when the client has nothing else in flight.")
    max_inflight_chars: int = Field(
        600_000, ge=1_000, description="Characters of request body in flight from all clients; more is answered 503 "
        "with Retry-After, so the queue (and the wait of everyone in it) stays bounded.")
    bind_host: str = Field(
        "127.0.0.1", description="The interface the server binds (set by `jobskills serve --host`): admin "
        "endpoints stay off on a non-loopback host without JOBSKILLS_API_KEY.")
    allow_anonymous_admin: bool = Field(
        False, description="Serve /reload and /feedback without an API key on a non-loopback host.")
    # ---- the gRPC front (services.rpc); it calls the HTTP API above, so it has no model of its own
    grpc_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the gRPC server (jobskills.v1); unset: 50051. `jobskills serve` "
        "starts gRPC only with --grpc-port, which sets it; 0 picks a free port.")
    grpc_host: str | None = Field(None, description="Interface the gRPC server binds; default: bind_host.")
    rest_url: str = Field(
        "http://127.0.0.1:3000", description="The HTTP API the gRPC server calls (same validation, limits, "
        "API key, request log and metrics as REST).")
    grpc_max_stream_postings: int = Field(
        10_000, ge=1, description="Most postings in one ExtractStream request (sent to the model in batches "
        "of max_batch_items).")
    grpc_health_interval_s: float = Field(
        5.0, gt=0, description="How often the gRPC server asks the HTTP API's /readyz for grpc.health.v1.")

    @field_validator("keyword_model_dir", "group_model_dir", "linker_model_dir", "occupation_model_dir", "topic_model_dir",
                     mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Resolved once: the services run with BentoML's working directory, not the caller's."""
        return value.expanduser().resolve() if value is not None else None

    def admin_refusal(self, api_key: str | None) -> str | None:
        """Why /reload and /feedback are off, or None when they are on.

        Anyone who can reach a non-loopback port could otherwise swap the served model or
        write training labels.
        """
        if api_key or self.allow_anonymous_admin or is_loopback(self.bind_host):
            return None
        return (f"admin endpoints (/reload, /feedback) are off: the server listens on {self.bind_host} "
                "without JOBSKILLS_API_KEY; set one, or pass --allow-anonymous-admin")

    @classmethod
    def load(cls) -> ServingConfig:
        """YAML file from ``JOBSKILLS_SERVE_CONFIG`` (when set) overridden by environment variables."""
        from common.core.config import ConfigError, read_yaml_mapping, unknown_env_vars, unknown_key_message

        unknown = unknown_env_vars("JOBSKILLS_SERVE_", cls.model_fields, skip=("JOBSKILLS_SERVE_CONFIG",))
        if unknown:
            raise ConfigError(unknown[0])
        path = os.environ.get("JOBSKILLS_SERVE_CONFIG")
        data: dict[str, Any] = {}
        if path:
            data = read_yaml_mapping(Path(path), cls.__name__)
            for key in data:
                if key not in cls.model_fields:
                    raise ConfigError(unknown_key_message(path, key, cls.model_fields))
        # environment variables win over the file: pydantic-settings gives init kwargs priority,
        # so only pass file values whose variable is not set.
        data = {k: v for k, v in data.items() if f"JOBSKILLS_SERVE_{k.upper()}" not in os.environ}
        return cls(**data)

    @model_validator(mode="after")
    def _deadline_under_timeout(self) -> ServingConfig:
        if self.dependency_timeout_s is not None and self.dependency_timeout_s >= self.timeout_s:
            raise ValueError(f"dependency_timeout_s ({self.dependency_timeout_s:g}) must be under timeout_s "
                             f"({self.timeout_s}): the API would answer 504 before a retry could start")
        return self

    def grpc_bind(self) -> str:
        """``host:port`` the gRPC server listens on."""
        host = self.grpc_host or self.bind_host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"{host}:{self.grpc_port if self.grpc_port is not None else 50051}"

    def dependency_deadline(self) -> float:
        """Seconds one API -> model-service call may take before it is retried."""
        return self.dependency_timeout_s or self.timeout_s / 2

    def runner_connection(self) -> dict[str, Any]:
        """The ``runner_connection=`` argument of a model service (read by its callers' clients)."""
        return {"max_requests": self.runner_max_requests, "max_age": self.runner_max_age_s}

    def gpu_count(self) -> int:
        """GPUs to declare per model service; ``auto`` looks for the NVIDIA driver without importing torch."""
        if self.gpus == "auto":
            return 1 if Path("/proc/driver/nvidia/version").exists() else 0
        return int(self.gpus)

    def resources(self) -> dict[str, Any]:
        """The ``resources=`` argument of a model service."""
        n = self.gpu_count()
        return {"gpu": n} if n > 0 else {}
