"""Serving benchmark: the BentoML API (adaptive batching) over REST and gRPC, against a per-request pipeline.

Starts ``bentoml serve services.api:ApiService`` on 127.0.0.1 with the given tagger, the gRPC
front beside it (``python -m services.rpc``, which answers each RPC through that API), then a
baseline HTTP server (Starlette + uvicorn, one worker) that runs a plain ``transformers``
token-classification pipeline once per request, and drives both with the same load: for each
concurrency level, that many httpx clients post real SkillSpan dev postings to ``/extract`` until
``--requests`` answers have come back or ``--max-seconds`` have passed (the gRPC clients call
``Extract`` over one shared channel, as a gRPC client library does). Prints throughput,
p50/p95/p99 latency and errors per level, and the throughput ratios BentoML / baseline and
gRPC / REST.

Usage (from the repository root)::

    nice -n 10 python benchmarks/serving.py --keyword-model-dir .jobskills/models/keyword-tagger/minilm-finetune

Both servers run on the same machine as the clients; on a shared CPU the absolute figures move
with other load, the ratio (measured in the same run) less so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
OFFLINE = {"BENTOML_DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

BASELINE_APP = textwrap.dedent('''
    """Per-request baseline: one transformers pipeline call per HTTP request, no batching."""
    import os, threading
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.concurrency import run_in_threadpool
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
    import torch

    model_dir = os.environ["BASELINE_MODEL_DIR"]
    if os.environ.get("BASELINE_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["BASELINE_TORCH_THREADS"]))
    device = 0 if torch.cuda.is_available() else -1
    # The tagger folder holds a plain HF encoder + tokenizer and head.safetensors (a 6-logit linear
    # head: 2 layers x O/B/I). The baseline loads the same fine-tuned encoder as a standard
    # BertForTokenClassification with that head copied in, i.e. the same network and cost,
    # through the stock pipeline (one flat label per token instead of two layers).
    labels = [f"{t}-{l}" for t in ("Skill", "Knowledge") for l in ("O", "B", "I")]
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=6, id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    source = model_dir + " (encoder + random head)"
    head_file = os.path.join(model_dir, "head.safetensors")
    if os.path.exists(head_file):
        from safetensors.torch import load_file
        head = load_file(head_file)
        if "head.weight" in head and head["head.weight"].shape == model.classifier.weight.shape:
            with torch.no_grad():
                model.classifier.weight.copy_(head["head.weight"])
                model.classifier.bias.copy_(head["head.bias"])
            source = model_dir + " (encoder + tagger head)"
    tok = AutoTokenizer.from_pretrained(model_dir)
    # same windows as the tagger: max_length pieces, overlapping by stride (long texts are split,
    # not truncated)
    import json
    meta = json.load(open(os.path.join(model_dir, "tagger.json")))
    tok.model_max_length = int(meta.get("max_length", 128))
    pipe = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple",
                    device=device, stride=int(meta.get("stride", 32)))
    lock = threading.Lock()  # one forward at a time: threads would only fight over the same cores

    def run(text):
        with lock:
            return pipe(text)

    async def extract(request: Request):
        body = await request.json()
        ents = await run_in_threadpool(run, body["text"])
        return JSONResponse({"keywords": [{"start": int(e["start"]), "end": int(e["end"]),
                                           "type": str(e["entity_group"]), "score": float(e["score"])}
                                          for e in ents if e.get("start") is not None]})

    async def healthz(request: Request):
        return JSONResponse({"ok": True, "model": source})

    app = Starlette(routes=[Route("/extract", extract, methods=["POST"]), Route("/healthz", healthz)])
''')


@dataclass
class LevelResult:
    target: str
    clients: int
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    chars_per_s: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def load_texts(n: int, max_chars: int) -> list[str]:
    """Real postings (SkillSpan dev), cut at a sentence boundary to at most ``max_chars``."""
    try:
        from common.data.skillspan import load_skillspan
        from common.text.spans import posting_text

        postings = load_skillspan("dev")
    except Exception as exc:  # noqa: BLE001  (no shared data: a fixed sample keeps the script usable)
        print(f"note: SkillSpan dev not available ({exc}); using a built-in sample", file=sys.stderr)
        sample = ("We are looking for a data engineer with strong experience in Python, SQL and cloud platforms. "
                  "You will design data pipelines, work with Spark and Kafka, and communicate with stakeholders.")
        return [sample[: max_chars]] * n
    texts: list[str] = []
    for p in postings:
        out = ""
        for line in posting_text(p).split("\n"):
            if out and len(out) + 1 + len(line) > max_chars:
                break
            out = f"{out}\n{line}" if out else line
        out = out[:max_chars].strip()
        if len(out) >= 50:
            texts.append(out)
        if len(texts) >= n:
            break
    return texts


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = log.open("w")
    return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_ready(url: str, text: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until ``/extract`` answers 200 (model loaded), not just until the port is open."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            r = httpx.post(f"{url}/extract", json={"text": text}, timeout=60)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(1.0)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s (last answer: {last}); see {log}")


async def run_load(call: Callable[[str], Awaitable[bool]], texts: list[str], clients: int, total: int,
                   max_seconds: float, target: str) -> LevelResult:
    """``clients`` concurrent loops of ``call(text)`` (True when the answer is good) until ``total``
    calls are issued or ``max_seconds`` pass; throughput and latency of the good answers."""
    latencies: list[float] = []
    errors = chars = issued = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal issued, errors, chars
        while issued < total and time.perf_counter() < deadline:
            text = texts[issued % len(texts)]
            issued += 1
            t0 = time.perf_counter()
            if await call(text):
                latencies.append((time.perf_counter() - t0) * 1000)
                chars += len(text)
            else:
                errors += 1

    t_start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    seconds = time.perf_counter() - t_start
    n = len(latencies)
    return LevelResult(target, clients, n + errors, errors, round(seconds, 2), round(n / seconds, 2),
                       round(pct(latencies, 50), 1), round(pct(latencies, 95), 1), round(pct(latencies, 99), 1),
                       round(chars / seconds, 1))


async def drive_grpc(address: str, texts: list[str], clients: int, total: int, max_seconds: float,
                     target: str, extra: dict | None = None) -> LevelResult:
    """The same load as ``drive``, as ``Extract`` RPCs over one gRPC channel."""
    import grpc

    from jobskills.v1 import jobskills_pb2 as pb
    from jobskills.v1 import jobskills_pb2_grpc as rpc

    shown = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = rpc.JobSkillsStub(channel)

        async def call(text: str) -> bool:
            nonlocal shown
            try:
                await stub.Extract(pb.ExtractRequest(text=text, **(extra or {})), timeout=300)
                return True
            except grpc.aio.AioRpcError as exc:
                if shown < 3:
                    shown += 1
                    print(f"  grpc error: {exc.code().name}: {exc.details()}", file=sys.stderr)
                return False

        return await run_load(call, texts, clients, total, max_seconds, target)


def wait_grpc_ready(address: str, text: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until ``Extract`` answers (as ``wait_ready``: health needs both models, this run only the tagger)."""
    import grpc

    from jobskills.v1 import jobskills_pb2 as pb
    from jobskills.v1 import jobskills_pb2_grpc as rpc

    deadline = time.monotonic() + timeout
    last = ""
    with grpc.insecure_channel(address) as channel:
        stub = rpc.JobSkillsStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gRPC server exited with {proc.returncode}; see {log}")
            try:
                stub.Extract(pb.ExtractRequest(text=text), timeout=60)
                return
            except grpc.RpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.5)
    raise TimeoutError(f"gRPC at {address} not answering after {timeout:.0f}s (last: {last}); see {log}")


async def drive(url: str, texts: list[str], clients: int, total: int, max_seconds: float, target: str,
                extra: dict | None = None) -> LevelResult:
    """``clients`` concurrent callers of ``/extract`` (``extra``: more fields of its body)."""
    if target == "grpc":
        return await drive_grpc(url, texts, clients, total, max_seconds, target, extra)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def call(text: str) -> bool:
            try:
                r = await client.post("/extract", json={"text": text, **(extra or {})})
                return r.status_code == 200 and "keywords" in r.json()
            except (httpx.HTTPError, ValueError):
                return False

        return await run_load(call, texts, clients, total, max_seconds, target)


def measure(url: str, texts: list[str], clients: int, args: argparse.Namespace, target: str) -> LevelResult:
    total = max(args.requests, clients * args.min_per_client)
    extra = {"with_skills": False} if args.no_skills and target != "baseline" else None
    res = asyncio.run(drive(url, texts, clients, total, args.max_seconds, target, extra))
    print(f"  {target:8s} clients={clients:3d} requests={res.requests:4d} errors={res.errors} "
          f"{res.throughput_rps:7.2f} req/s  p50={res.p50_ms:.0f} p95={res.p95_ms:.0f} p99={res.p99_ms:.0f} ms",
          flush=True)
    return res


def default_model_dir() -> Path | None:
    """The registry champion tagger, else the MiniLM fine-tune folder the training step writes."""
    try:
        from common.registry import champion_path
        from common.core.settings import get_settings

        return Path(champion_path(get_settings().keyword_model_name))
    except Exception:  # noqa: BLE001  (no registry or champion: the training output folder)
        p = REPO / ".jobskills" / "models" / "keyword-tagger" / "minilm-finetune"
        return p if p.exists() else None


def throughput_ratios(results: list[LevelResult], levels: list[int], over: str, under: str,
                      label: str) -> dict[int, float]:
    """Throughput of target ``over`` divided by target ``under`` at each client count both ran, printed."""
    by = {(r.target, r.clients): r for r in results}
    ratios = {}
    for c in levels:
        a, b = by.get((over, c)), by.get((under, c))
        if a and b and b.throughput_rps > 0:
            ratios[c] = round(a.throughput_rps / b.throughput_rps, 2)
            print(f"throughput ratio {label} at {c:2d} clients: {ratios[c]:.2f}x")
    return ratios


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keyword-model-dir", type=Path, default=None, help="tagger folder (default: champion)")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts")
    ap.add_argument("--requests", type=int, default=96, help="answers per level (at least)")
    ap.add_argument("--min-per-client", type=int, default=3, help="at least this many requests per client")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time cap per level")
    ap.add_argument("--max-chars", type=int, default=600, help="cut postings to this many characters")
    ap.add_argument("--max-batch-size", type=int, default=32, help="BentoML adaptive batching cap")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch threads in the model processes of both servers (default: torch's choice)")
    ap.add_argument("--no-skills", action="store_true", help="ask for with_skills: false (keywords and their "
                    "ESCO links, no posting skills)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-grpc", action="store_true", help="no gRPC row")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--logs", type=Path, default=Path("/tmp/jobskills-bench"), help="server logs folder")
    args = ap.parse_args(argv)

    model_dir = args.keyword_model_dir or default_model_dir()
    if model_dir is None or not Path(model_dir).is_dir():
        print(f"error: no tagger folder ({model_dir}); pass --keyword-model-dir", file=sys.stderr)
        return 2
    model_dir = Path(model_dir).resolve()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    texts = load_texts(200, args.max_chars)
    args.logs.mkdir(parents=True, exist_ok=True)
    print(f"tagger: {model_dir}\ntexts: {len(texts)} postings, mean {statistics.mean(map(len, texts)):.0f} chars; "
          f"levels {levels}; >= {args.requests} requests or {args.max_seconds:.0f}s per level", flush=True)

    env = {**os.environ, **OFFLINE}
    results: list[LevelResult] = []

    # Both servers run side by side; each level is measured on one, then the other (the order
    # alternates per level), so slow drifts in the machine's load hit both about equally. The
    # server not being measured is idle.
    port = free_port()
    benv = {**env, "JOBSKILLS_SERVE_KEYWORD_MODEL_DIR": str(model_dir), "JOBSKILLS_DATA_DIR": str(args.logs / "data"),
            "JOBSKILLS_SERVE_MAX_BATCH_SIZE": str(args.max_batch_size)}
    if args.torch_threads:
        benv["JOBSKILLS_THREADS"] = str(args.torch_threads)
    targets: dict[str, str] = {}
    procs: list[subprocess.Popen] = []
    try:
        log = args.logs / "bentoml.log"
        procs.append(start([sys.executable, "-m", "bentoml", "serve", "services.api:ApiService", "--host", "127.0.0.1",
                            "--port", str(port)], benv, log))
        t0 = time.perf_counter()
        wait_ready(f"http://127.0.0.1:{port}", texts[0], procs[-1], 300, log)
        print(f"bentoml ready in {time.perf_counter() - t0:.1f}s", flush=True)
        targets["bentoml"] = f"http://127.0.0.1:{port}"
        if not args.skip_grpc:
            grpc_port = free_port()
            log = args.logs / "grpc.log"
            genv = {**benv, "JOBSKILLS_SERVE_GRPC_PORT": str(grpc_port), "JOBSKILLS_SERVE_GRPC_HOST": "127.0.0.1",
                    "JOBSKILLS_SERVE_REST_URL": targets["bentoml"]}
            procs.append(start([sys.executable, "-m", "services.rpc"], genv, log))
            wait_grpc_ready(f"127.0.0.1:{grpc_port}", texts[0], procs[-1], 120, log)
            print("grpc ready", flush=True)
            targets["grpc"] = f"127.0.0.1:{grpc_port}"
        if not args.skip_baseline:
            (args.logs / "baseline_app.py").write_text(BASELINE_APP, encoding="utf-8")
            port = free_port()
            log = args.logs / "baseline.log"
            penv = {**env, "BASELINE_MODEL_DIR": str(model_dir), "PYTHONPATH": str(args.logs)}
            if args.torch_threads:
                penv["BASELINE_TORCH_THREADS"] = str(args.torch_threads)
            procs.append(start([sys.executable, "-m", "uvicorn", "baseline_app:app", "--host", "127.0.0.1", "--port",
                                str(port), "--workers", "1", "--log-level", "warning"], penv, log))
            t0 = time.perf_counter()
            wait_ready(f"http://127.0.0.1:{port}", texts[0], procs[-1], 300, log)
            model_src = httpx.get(f"http://127.0.0.1:{port}/healthz").json()["model"]
            print(f"baseline ready in {time.perf_counter() - t0:.1f}s (model: {model_src})", flush=True)
            targets["baseline"] = f"http://127.0.0.1:{port}"
        for name, url in targets.items():  # warm-up (also trains BentoML's batching optimizer)
            asyncio.run(drive(url, texts, 8, 32, 120, name))
        for i, c in enumerate(levels):
            order = list(targets) if i % 2 == 0 else list(reversed(targets))
            for name in order:
                results.append(measure(targets[name], texts, c, args, name))
    finally:
        for proc in procs:
            stop(proc)
    results.sort(key=lambda r: (["bentoml", "grpc", "baseline"].index(r.target), r.clients))

    # --- table -----------------------------------------------------------------------------
    print()
    print(f"{'target':9s} {'clients':>7s} {'requests':>8s} {'errors':>6s} {'req/s':>8s} {'chars/s':>9s} "
          f"{'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for r in results:
        print(f"{r.target:9s} {r.clients:7d} {r.requests:8d} {r.errors:6d} {r.throughput_rps:8.2f} {r.chars_per_s:9.0f} "
              f"{r.p50_ms:8.0f} {r.p95_ms:8.0f} {r.p99_ms:8.0f}")
    ratios = throughput_ratios(results, levels, "bentoml", "baseline", "bentoml/baseline")
    grpc_ratios = throughput_ratios(results, levels, "grpc", "bentoml", "grpc/rest")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"model_dir": str(model_dir), "results": [asdict(r) for r in results],
                                        "ratios": ratios, "grpc_over_rest": grpc_ratios}, indent=2),
                            encoding="utf-8")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
