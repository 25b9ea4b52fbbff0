"""Soak benchmark: a mixed-endpoint load on ``jobskills serve`` for a long time, watching memory.

Starts ``jobskills serve`` on 127.0.0.1 (champions, or the folders given), then ``--clients``
async clients send held-out SkillSpan dev postings for ``--minutes``: ``/extract`` 50 %,
``/analyze`` 20 %, ``/classify`` 20 % (keyword phrases) and ``/extract_batch`` 10 % (2-4
postings). Every ``--sample-s`` seconds it records each worker process's resident memory, open
file descriptors and threads (psutil). It stops by itself and prints requests, errors,
p50/p95/p99 per endpoint, and per service the memory slope (MB per 1,000 requests, least
squares) over the second half of the run.

    nice -n 10 python benchmarks/soak.py --minutes 20 --clients 8 \
        --keyword-model-dir DIR --group-model-dir DIR [--linker-model-dir DIR] --json soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import OFFLINE, REPO, free_port, load_texts, pct, start, stop, wait_ready  # noqa: E402

MIX = [("extract", 50), ("analyze", 20), ("classify", 20), ("extract_batch", 10)]


def service_of(proc) -> str:  # noqa: ANN001 - psutil.Process
    """Which BentoML service a process runs, from its command line."""
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:  # noqa: BLE001
        return "?"
    for name in ("KeywordService", "GroupService", "keyword_tagger", "skill_groups"):
        if name in cmd:
            return "keyword_tagger" if "eyword" in name else "skill_groups"
    if "_bentoml_impl" in cmd or "bentoml" in cmd:
        return "jobskills_api" if "worker" in cmd else "bentoml_main"
    return "other"


def sample(root_pid: int) -> list[dict]:
    import psutil

    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in procs:
        try:
            out.append({"pid": p.pid, "service": service_of(p), "rss_mb": p.memory_info().rss / 1e6,
                        "fds": p.num_fds(), "threads": p.num_threads()})
        except psutil.Error:
            continue
    return out


def body_for(kind: str, texts: list[str], phrases: list[str], rng: random.Random) -> dict:
    if kind == "extract":
        return {"text": rng.choice(texts)}
    if kind == "analyze":
        return {"text": rng.choice(texts), "level": 2, "top_k": 3}
    if kind == "classify":
        return {"skills": rng.sample(phrases, k=min(len(phrases), rng.randint(1, 6))), "level": 2, "top_k": 3}
    return {"texts": rng.sample(texts, k=rng.randint(2, 4))}


async def drive(url: str, texts: list[str], phrases: list[str], clients: int, seconds: float, seed: int,
                stats: dict) -> None:
    kinds = [k for k, w in MIX for _ in range(w)]
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def worker(i: int) -> None:
            rng = random.Random(seed + i)
            while time.perf_counter() < deadline:
                kind = rng.choice(kinds)
                t0 = time.perf_counter()
                try:
                    r = await client.post(f"/{kind}", json=body_for(kind, texts, phrases, rng))
                    ok = r.status_code == 200
                    if not ok:
                        stats["error_samples"].append(f"{kind}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    ok = False
                    stats["error_samples"].append(f"{kind}: {exc!r}")
                stats["done"] += 1
                stats["by"].setdefault(kind, {"ms": [], "errors": 0})
                if ok:
                    stats["by"][kind]["ms"].append((time.perf_counter() - t0) * 1000)
                else:
                    stats["by"][kind]["errors"] += 1

        await asyncio.gather(*(worker(i) for i in range(clients)))


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares MB per 1,000 requests."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return None if var == 0 else 1000 * sum((x - mx) * (y - my) for x, y in points) / var


def summarise(samples: list[dict], stats: dict, seconds: float) -> dict:
    by_service: dict[str, list[tuple[float, float, float, int, int]]] = {}
    for s in samples:
        per: dict[str, list[dict]] = {}
        for p in s["procs"]:
            per.setdefault(p["service"], []).append(p)
        for svc, ps in per.items():
            by_service.setdefault(svc, []).append((s["t"], s["requests"], sum(p["rss_mb"] for p in ps),
                                                   sum(p["fds"] for p in ps), sum(p["threads"] for p in ps)))
    half = seconds / 2
    services = {}
    for svc, rows in by_service.items():
        second = [(r, mb) for t, r, mb, _, _ in rows if t >= half]
        services[svc] = {"rss_mb_start": round(rows[0][2], 1), "rss_mb_half": round(second[0][1], 1) if second else None,
                         "rss_mb_end": round(rows[-1][2], 1), "fds_end": rows[-1][3], "threads_end": rows[-1][4],
                         "slope_mb_per_1k_requests_second_half": (round(s, 2) if (s := slope(second)) is not None
                                                                  else None)}
    endpoints = {k: {"ok": len(v["ms"]), "errors": v["errors"], "p50_ms": round(pct(v["ms"], 50), 1),
                     "p95_ms": round(pct(v["ms"], 95), 1), "p99_ms": round(pct(v["ms"], 99), 1)}
                 for k, v in stats["by"].items()}
    return {"seconds": round(seconds, 1), "requests": stats["done"],
            "errors": sum(v["errors"] for v in stats["by"].values()), "endpoints": endpoints,
            "services": services, "error_samples": stats["error_samples"][:10]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--keyword-model-dir", type=Path)
    ap.add_argument("--group-model-dir", type=Path)
    ap.add_argument("--linker-model-dir", type=Path)
    ap.add_argument("--max-chars", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (e.g. MALLOC_ARENA_MAX=2).")
    args = ap.parse_args(argv)

    texts = load_texts(400, args.max_chars)
    phrases = ["python programming", "data analysis", "team communication", "project management", "sql",
               "cloud computing", "customer service", "machine learning", "java", "agile methods", "docker",
               "written english", "problem solving", "stakeholder management", "kubernetes", "excel"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **OFFLINE, **dict(kv.split("=", 1) for kv in args.env)}
    cmd = [sys.executable, "-m", "jobskills.cli.main", "serve", "--port", str(port)]
    for flag, value in (("--keyword-model-dir", args.keyword_model_dir), ("--group-model-dir", args.group_model_dir),
                        ("--linker-model-dir", args.linker_model_dir)):
        if value:
            cmd += [flag, str(value)]
    log = REPO / ".jobskills" / "soak-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start(cmd, env, log)
    samples: list[dict] = []
    stats = {"done": 0, "by": {}, "error_samples": []}
    try:
        wait_ready(url, texts[0], proc, 600, log)
        seconds = args.minutes * 60
        t0 = time.perf_counter()
        stop_flag = threading.Event()

        def sampler() -> None:
            while not stop_flag.is_set():
                samples.append({"t": time.perf_counter() - t0, "requests": stats["done"], "procs": sample(proc.pid)})
                stop_flag.wait(args.sample_s)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        asyncio.run(drive(url, texts, phrases, args.clients, seconds, args.seed, stats))
        elapsed = time.perf_counter() - t0
        samples.append({"t": elapsed, "requests": stats["done"], "procs": sample(proc.pid)})
        stop_flag.set()
        th.join(timeout=5)
    finally:
        stop(proc)
    result = summarise(samples, stats, elapsed)
    result["server_env"] = args.env
    if args.json:
        args.json.write_text(json.dumps({**result, "samples": samples}, indent=2))
    print(json.dumps({k: v for k, v in result.items()}, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
