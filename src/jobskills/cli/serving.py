"""``jobskills serve``: run the BentoML API (keyword + skill-group services, web page) locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer


def _services_root() -> Path:
    """Folder that holds the ``services`` package (the BentoML working directory)."""
    import importlib.util

    spec = importlib.util.find_spec("services")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the services package is not importable; install the project with pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))).resolve().parent


def serve_command(
    host: str, port: int, keyword_model_dir: Path | None, group_model_dir: Path | None,
    keyword_tag: str | None, group_tag: str | None, gpus: str | None, workers: int | None,
    allow_anonymous_admin: bool = False, linker_model_dir: Path | None = None,
) -> list[str]:
    """The ``bentoml serve`` command line and, as a side effect, the environment it reads."""
    os.environ["JOBSKILLS_SERVE_BIND_HOST"] = host
    # glibc raises its mmap threshold each time a large mmapped block is freed, so the next
    # (n phrases x 36k names) score matrices of the linker and group model come from the heap
    # instead and fragment it: skill_groups grew ~100 MB per 1,000 mixed requests. A fixed
    # threshold keeps large arrays in mmap and gives them back on free; two arenas bound the
    # per-thread heaps of BentoML's pool threads (docs/serving.md, benchmarks/soak.py).
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ["JOBSKILLS_SERVE_ALLOW_ANONYMOUS_ADMIN"] = "true" if allow_anonymous_admin else "false"
    for name, folder in (("keyword", keyword_model_dir), ("group", group_model_dir), ("linker", linker_model_dir)):
        if folder is not None:
            if not folder.is_dir():
                raise FileNotFoundError(f"{name} model folder {folder} does not exist")
            os.environ[f"JOBSKILLS_SERVE_{name.upper()}_MODEL_DIR"] = str(folder.resolve())
    if keyword_tag:
        os.environ["JOBSKILLS_SERVE_KEYWORD_MODEL_TAG"] = keyword_tag
    if group_tag:
        os.environ["JOBSKILLS_SERVE_GROUP_MODEL_TAG"] = group_tag
    if gpus is not None:
        if gpus != "auto" and not gpus.isdigit():
            raise ValueError(f"--gpus must be 'auto' or a whole number, not {gpus!r}")
        os.environ["JOBSKILLS_SERVE_GPUS"] = gpus
    if workers is not None:
        os.environ["JOBSKILLS_SERVE_WORKERS"] = str(workers)
    return [sys.executable, "-m", "bentoml", "serve", "services.api:ApiService",
            "--host", host, "--port", str(port), "--working-dir", str(_services_root())]


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""

    @app.command()
    def serve(
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 3000,
        host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
        keyword_model_dir: Annotated[Path | None, typer.Option(help="Serve this tagger folder, not the champion.")] = None,
        group_model_dir: Annotated[Path | None, typer.Option(help="Serve this group-model folder.")] = None,
        linker_model_dir: Annotated[Path | None, typer.Option(help="Serve this ESCO linker folder.")] = None,
        keyword_tag: Annotated[str | None, typer.Option(help="Serve this model-store tag, not the champion.")] = None,
        group_tag: Annotated[str | None, typer.Option(help="Serve this model-store tag, not the champion.")] = None,
        gpus: Annotated[str | None, typer.Option(help="GPUs per model service: auto or a number.")] = None,
        workers: Annotated[int | None, typer.Option(min=1, help="Worker processes per model service.")] = None,
        allow_anonymous_admin: Annotated[bool, typer.Option(
            "--allow-anonymous-admin",
            help="On a non-loopback --host without JOBSKILLS_API_KEY, still serve /reload and /feedback.")] = False,
    ) -> None:
        """Serve the API, the web page (/ui/) and the metrics until Ctrl+C.

        Models come from the registry champions unless a folder or tag is given; the server
        starts even without them and /readyz says what is missing.
        """
        from jobskills.cli._util import console, user_errors
        from common.core.settings import get_settings
        from services.config import ServingConfig

        with user_errors():
            cmd = serve_command(host, port, keyword_model_dir, group_model_dir, keyword_tag, group_tag, gpus, workers,
                                allow_anonymous_admin, linker_model_dir)
            refusal = ServingConfig.load().admin_refusal(get_settings().api_key)
        console.print(f"serving on http://{host}:{port}  (page: /ui/, API docs: /, metrics: /metrics)")
        if refusal:
            console.print(f"[yellow]{refusal}[/yellow]", highlight=False)
        try:
            code = subprocess.call(cmd)
        except KeyboardInterrupt:
            code = 0
        raise typer.Exit(code)
