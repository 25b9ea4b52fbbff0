"""Served throughput per keyword tier x inference backend, against the encoder ceiling measured in the same run.

For each tier folder (``--fast``, ``--accurate``) and each backend (``torch``, ``onnx-int8``, ...):

1. **ceiling**: the tagger's encoder alone, in this process, on fixed 16 x 128 batches with
   ``--threads`` threads (sub-word pieces/s), turned into words/s with the pieces per word of the
   benchmark postings (so the ceiling is what the encoder could answer if nothing else cost);
2. **served**: ``bentoml serve services.api:ApiService`` on 127.0.0.1 with that tagger, that backend
   (``JOBSKILLS_INFERENCE_BACKEND``) and, with ``--linker``, the ESCO linker (links and the posting's
   ESCO skills on, as served), ``--group-model`` likewise; then for each endpoint (``/extract``,
   ``/analyze``) and client count, that many clients post real SkillSpan dev postings of about
   500 words: words/s, postings/s, p50 / p95 / p99, errors, the ratio served / ceiling, and at one
   client p95 over the encoder time of the mean posting (its pieces / the ceiling).

Targets of issue 25: served ``/extract`` >= 0.8 of the int8 ceiling; 1-client p95 <= 1.5x the
encoder time. Run it on an otherwise idle machine: the model processes and the clients share it.

    python benchmarks/serving_tiers.py --fast DIR --accurate DIR --linker DIR --backends torch,onnx-int8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import encoder_tokens_per_s  # noqa: E402
from serving import OFFLINE, free_port, load_texts, run_load, start, stop, wait_ready  # noqa: E402


def ceiling(model_dir: Path, backend: str, threads: int, texts: list[str], device: str = "cpu") -> dict:
    """The encoder's pieces/s on 16 x 128 batches (on ``device``), and the postings' pieces per word."""
    import torch

    from common.keywords.tagger import KeywordTagger

    torch.set_num_threads(threads)
    os.environ["JOBSKILLS_THREADS"] = str(threads)
    from common.core.settings import get_settings

    get_settings.cache_clear()
    tagger = KeywordTagger.load(model_dir, device=device, backend=backend)
    pieces = [len(tagger.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    words = [len(t.split()) for t in texts]
    tps = encoder_tokens_per_s(tagger, 16, 128, 6 if device == "cpu" else 20)
    return {"pieces_per_s": round(tps, 1), "pieces_per_word": round(sum(pieces) / sum(words), 3),
            "words_per_s": round(tps * sum(words) / sum(pieces), 1),
            "mean_posting_s": round(statistics.mean(pieces) / tps, 4)}


async def drive(url: str, endpoint: str, texts: list[str], clients: int, total: int, max_seconds: float) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    words = {t: len(t.split()) for t in texts}
    done_words = 0
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:

        async def call(text: str) -> bool:
            nonlocal done_words
            try:
                r = await client.post(endpoint, json={"text": text})
            except httpx.HTTPError:
                return False
            ok = r.status_code == 200 and "keywords" in r.json()
            done_words += words[text] if ok else 0
            return ok

        res = await run_load(call, texts, clients, total, max_seconds, endpoint)
    return {"endpoint": endpoint, "clients": clients, "requests": res.requests, "errors": res.errors,
            "postings_per_s": res.throughput_rps, "words_per_s": round(done_words / res.seconds, 1),
            "p50_ms": res.p50_ms, "p95_ms": res.p95_ms, "p99_ms": res.p99_ms}


def serve_and_measure(model_dir: Path, backend: str, args: argparse.Namespace, texts: list[str], tag: str) -> list[dict]:
    port = free_port()
    env = {**os.environ, **OFFLINE, "JOBSKILLS_SERVE_KEYWORD_MODEL_DIR": str(model_dir),
           "JOBSKILLS_INFERENCE_BACKEND": backend, "JOBSKILLS_DATA_DIR": str(args.logs / "data"),
           "JOBSKILLS_THREADS": str(args.threads)}
    if args.linker:
        env["JOBSKILLS_SERVE_LINKER_MODEL_DIR"] = str(args.linker)
    if args.group_model:
        env["JOBSKILLS_SERVE_GROUP_MODEL_DIR"] = str(args.group_model)
    log = args.logs / f"serve-{tag}-{backend}.log"
    proc = start([sys.executable, "-m", "bentoml", "serve", "services.api:ApiService", "--host", "127.0.0.1",
                  "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_ready(url, texts[0], proc, 600, log)
        status = httpx.post(f"{url}/status", timeout=60).json()
        served = {k: (status.get(k) or {}).get("backend") for k in ("keywords", "groups")}
        print(f"  serving {tag} on {served}", flush=True)
        for endpoint in args.endpoints.split(","):
            asyncio.run(drive(url, endpoint, texts, 4, 16, 120))  # warm-up, also BentoML's batching optimiser
            asyncio.run(drive(url, endpoint, texts, 1, 4, 120))
            for c in (int(x) for x in args.concurrency.split(",")):
                row = asyncio.run(drive(url, endpoint, texts, c, max(args.requests, 2 * c), args.max_seconds))
                rows.append({"tier": tag, "backend": backend, "served_backends": served, **row})
                print(f"  {endpoint} x{c}: {row}", flush=True)
    finally:
        stop(proc)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast", type=Path, default=None, help="fast-tier tagger folder")
    ap.add_argument("--accurate", type=Path, default=None, help="accurate-tier tagger folder")
    ap.add_argument("--linker", type=Path, default=None, help="ESCO linker folder (links and skills on)")
    ap.add_argument("--group-model", type=Path, default=None, help="skill-group model folder (for /analyze)")
    ap.add_argument("--backends", default="torch,onnx-int8")
    ap.add_argument("--endpoints", default="/extract,/analyze")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--requests", type=int, default=24, help="answers per level (at least 2 per client)")
    ap.add_argument("--max-seconds", type=float, default=90.0, help="time cap per level")
    ap.add_argument("--max-chars", type=int, default=3300, help="postings cut to this many characters (~500 words)")
    ap.add_argument("--threads", type=int, default=2, help="threads of each model process and of the ceiling")
    ap.add_argument("--device", default="cpu", help="where the ceiling is measured: cpu or cuda (serve with "
                    "JOBSKILLS_SERVE_GPUS=1 to match)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results")
    ap.add_argument("--logs", type=Path, default=Path("/tmp/jobskills-bench-tiers"))
    args = ap.parse_args(argv)
    tiers = {t: d.resolve() for t, d in (("fast", args.fast), ("accurate", args.accurate)) if d}
    if not tiers:
        print("error: give --fast and/or --accurate (tagger folders)", file=sys.stderr)
        return 2
    args.logs.mkdir(parents=True, exist_ok=True)
    texts = load_texts(200, args.max_chars)
    print(f"{len(texts)} postings, mean {statistics.mean(len(t.split()) for t in texts):.0f} words", flush=True)
    results = []
    for tag, model_dir in tiers.items():
        for backend in args.backends.split(","):
            ceil = ceiling(model_dir, backend, args.threads, texts, args.device)
            print(f"{tag} / {backend}: ceiling {ceil}", flush=True)
            for row in serve_and_measure(model_dir, backend, args, texts, tag):
                row["ceiling_words_per_s"] = ceil["words_per_s"]
                row["ratio"] = round(row["words_per_s"] / ceil["words_per_s"], 3)
                row["p95_over_encoder"] = (round(row["p95_ms"] / 1000 / ceil["mean_posting_s"], 2)
                                           if row["clients"] == 1 else None)
                results.append({**row, "ceiling": ceil})
    print(f"\nthreads {args.threads}; linker {'on' if args.linker else 'off'}; group model "
          f"{'on' if args.group_model else 'off'}; postings of ~{statistics.mean(len(t.split()) for t in texts):.0f} "
          "words\n")
    print("| tier | backend | endpoint | clients | words/s | postings/s | p50 / p95 / p99 ms | errors | ceiling words/s "
          "| served / ceiling | p95 / encoder time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        extra = f"{r['p95_over_encoder']:.1f}" if r["p95_over_encoder"] is not None else ""
        print(f"| {r['tier']} | {r['backend']} | {r['endpoint']} | {r['clients']} | {r['words_per_s']:.0f} | "
              f"{r['postings_per_s']:.2f} | {r['p50_ms']:.0f} / {r['p95_ms']:.0f} / {r['p99_ms']:.0f} | {r['errors']} | "
              f"{r['ceiling_words_per_s']:.0f} | {r['ratio']:.2f} | {extra} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
