"""``jobskills serve``: run the BentoML API (keyword + skill-group services, web page) locally, and
with ``--grpc-port`` the gRPC front beside it; ``jobskills serve-grpc``: the gRPC front alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    allow_anonymous_admin: bool = False, linker_model_dir: Path | None = None, tier: str | None = None,
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
    if tier is not None:
        if tier not in ("auto", "accurate", "fast"):
            raise ValueError(f"--tier must be auto, accurate or fast, not {tier!r}")
        os.environ["JOBSKILLS_SERVE_KEYWORD_TIER"] = tier
    return [sys.executable, "-m", "bentoml", "serve", "services.api:ApiService",
            "--host", host, "--port", str(port), "--working-dir", str(_services_root())]


def rest_url_for(host: str, port: int) -> str:
    """Where a gRPC server on this machine reaches the HTTP API bound to ``host``: loopback when it
    listens on every interface (or on loopback), else that address."""
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") or host.startswith("127.") else host
    reach = f"[{reach}]" if ":" in reach else reach
    return f"http://{reach}:{port}"


def grpc_command(host: str, grpc_port: int, rest_url: str) -> list[str]:
    """The ``python -m services.rpc`` command line and, as a side effect, the environment it reads."""
    os.environ["JOBSKILLS_SERVE_GRPC_PORT"] = str(grpc_port)
    os.environ["JOBSKILLS_SERVE_GRPC_HOST"] = host
    os.environ["JOBSKILLS_SERVE_REST_URL"] = rest_url
    return [sys.executable, "-m", "services.rpc"]


def run_together(commands: list[list[str]]) -> int:
    """Run the commands side by side until one ends (or SIGTERM / Ctrl+C), then stop the others;
    the exit code is the first one's to end (0 after Ctrl+C)."""
    cwd = _services_root()
    procs = [subprocess.Popen(cmd, cwd=cwd) for cmd in commands]
    stopping = {"code": None}

    def on_term(signum: int, frame: object) -> None:
        stopping["code"] = 0

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while stopping["code"] is None:
            for p in procs:
                if p.poll() is not None:
                    stopping["code"] = p.returncode
                    break
            else:
                time.sleep(0.3)
    except KeyboardInterrupt:
        stopping["code"] = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return int(stopping["code"] or 0)


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
        grpc_port: Annotated[int | None, typer.Option(
            min=1, max=65535, help="Also serve gRPC (jobskills.v1) on this port, through the same API.")] = None,
        tier: Annotated[str | None, typer.Option(
            help="Keyword tier: accurate, fast or auto (default: JOBSKILLS_SERVE_KEYWORD_TIER, else auto: the "
            "accurate tier when it has a champion, else the fast tier).")] = None,
    ) -> None:
        """Serve the API, the web page (/ui/) and the metrics until Ctrl+C; with --grpc-port, the
        gRPC API too.

        Models come from the registry champions unless a folder or tag is given; the server
        starts even without them and /readyz (gRPC: grpc.health.v1) says what is missing.
        """
        from jobskills.cli._util import console, fail, user_errors
        from common.core.settings import get_settings
        from services.config import ServingConfig

        with user_errors():
            cmd = serve_command(host, port, keyword_model_dir, group_model_dir, keyword_tag, group_tag, gpus, workers,
                                allow_anonymous_admin, linker_model_dir, tier)
            refusal = ServingConfig.load().admin_refusal(get_settings().api_key)
        if grpc_port is not None and grpc_port == port:
            raise fail(f"--grpc-port {grpc_port} is the HTTP port too; pick another one", code=2)
        console.print(f"serving on http://{host}:{port}  (page: /ui/, API docs: /, metrics: /metrics)")
        commands = [cmd]
        if grpc_port is not None:
            commands.append(grpc_command(host, grpc_port, rest_url_for(host, port)))
            console.print(f"serving gRPC jobskills.v1.JobSkills on {host}:{grpc_port}  (health, reflection)")
        if refusal:
            console.print(f"[yellow]{refusal}[/yellow]", highlight=False)
        raise typer.Exit(run_together(commands))

    @app.command("serve-grpc")
    def serve_grpc(
        port: Annotated[int, typer.Option(min=1, max=65535, help="gRPC port.")] = 50051,
        host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
        rest_url: Annotated[str, typer.Option(help="The running HTTP API to answer through.")] = "http://127.0.0.1:3000",
    ) -> None:
        """Serve gRPC (jobskills.v1) beside an HTTP API that is already running, until Ctrl+C.

        Every RPC is answered by that API (same models, limits, API key, request log, metrics);
        grpc.health.v1 turns SERVING when its /readyz does.
        """
        from jobskills.cli._util import console

        grpc_command(host, port, rest_url)  # the environment the server reads
        from services.rpc.server import main

        console.print(f"serving gRPC jobskills.v1.JobSkills on {host}:{port} through {rest_url}")
        main()  # until SIGTERM / Ctrl+C; a port it cannot bind is one sentence and exit code 2
