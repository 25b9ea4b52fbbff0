"""Fairness under large postings: does one client's long work stall everyone else's short work?

The scenario of issue 25, against ``bentoml serve`` on 127.0.0.1 with the given tagger:

1. **alone**: one client posts ordinary postings to ``/extract`` one after another (p50 / p95);
2. **burst**: two other clients (their own ``X-API-Key``) post 100,000-character postings in a loop
   for ``--burst-seconds`` while the first client goes on; its p50 / p95 and every answer's status
   (200, 429 with Retry-After, 503 with Retry-After) are counted;
3. **after**: the heavy clients stop; the ordinary client goes on, and the time until its latency
   is back under 1.5x its p95 alone (three answers in a row) is the recovery time.

Targets (issue 25): p95 during the burst <= 3x p95 alone; recovery within 10 s.

    python benchmarks/fairness.py --keyword-model-dir .jobskills/models/keyword-tagger/latest
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import OFFLINE, REPO, free_port, load_texts, pct, start, stop, wait_ready  # noqa: E402


async def ordinary(client: httpx.AsyncClient, texts: list[str], until: float, out: list[tuple[float, float, int]]) -> None:
    """Post ordinary postings one after another until ``until``: (sent at, seconds, status)."""
    i = 0
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        r = await client.post("/extract", json={"text": texts[i % len(texts)]})
        out.append((t0, time.perf_counter() - t0, r.status_code))
        i += 1


async def heavy(client: httpx.AsyncClient, text: str, key: str, until: float, statuses: Counter) -> None:
    while time.perf_counter() < until:
        r = await client.post("/extract", json={"text": text}, headers={"X-API-Key": key})
        statuses[r.status_code] += 1
        if r.status_code in (429, 503):
            await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 2.0))


async def scenario(url: str, texts: list[str], big: str, args: argparse.Namespace) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=300) as c:
        alone: list[tuple[float, float, int]] = []
        await ordinary(c, texts, time.perf_counter() + args.alone_seconds, alone)
        ok_alone = [s for _, s, st in alone if st == 200]
        p95_alone = pct(ok_alone, 95)
        during: list[tuple[float, float, int]] = []
        heavy_status: Counter = Counter()
        end = time.perf_counter() + args.burst_seconds
        await asyncio.gather(ordinary(c, texts, end, during),
                             *(heavy(c, big, f"heavy-{k}", end, heavy_status) for k in range(2)))
        burst_end = time.perf_counter()
        after: list[tuple[float, float, int]] = []
        await ordinary(c, texts, burst_end + args.after_seconds, after)
    recovered = None
    for i in range(len(after) - 2):
        if all(s <= 1.5 * p95_alone and st == 200 for _, s, st in after[i : i + 3]):
            recovered = after[i][0] - burst_end
            break
    ok_during = [s for _, s, st in during if st == 200]
    return {"alone": {"n": len(ok_alone), "p50_s": pct(ok_alone, 50), "p95_s": p95_alone},
            "burst": {"n": len(during), "ok": len(ok_during), "p50_s": pct(ok_during, 50) if ok_during else None,
                      "p95_s": pct(ok_during, 95) if ok_during else None,
                      "statuses": dict(Counter(st for _, _, st in during)), "heavy_statuses": dict(heavy_status)},
            "p95_ratio": (pct(ok_during, 95) / p95_alone) if ok_during and p95_alone else None,
            "recovery_s": recovered}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keyword-model-dir", type=Path, required=True)
    ap.add_argument("--max-chars", type=int, default=2_000, help="ordinary postings are cut to this length")
    ap.add_argument("--big-chars", type=int, default=100_000, help="the heavy clients' posting length")
    ap.add_argument("--alone-seconds", type=float, default=30.0)
    ap.add_argument("--burst-seconds", type=float, default=60.0)
    ap.add_argument("--after-seconds", type=float, default=30.0)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (e.g. JOBSKILLS_SERVE_UNIT_CHARS=4000)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--logs", type=Path, default=Path("/tmp/jobskills-fairness"))
    args = ap.parse_args(argv)

    texts = load_texts(100, args.max_chars)
    big = ""
    for t in load_texts(400, 20_000):
        big = f"{big}\n{t}" if big else t
        if len(big) >= args.big_chars:
            break
    big = big[: args.big_chars]
    args.logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, **OFFLINE, "JOBSKILLS_SERVE_KEYWORD_MODEL_DIR": str(args.keyword_model_dir.resolve()),
           "JOBSKILLS_DATA_DIR": str(args.logs / "data"),
           **dict(kv.split("=", 1) for kv in args.env)}
    log = args.logs / "bentoml.log"
    proc = start([sys.executable, "-m", "bentoml", "serve", "services.api:ApiService", "--host", "127.0.0.1",
                  "--port", str(port)], env, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, texts[0], proc, 300, log)
        httpx.post(f"{url}/extract", json={"text": big}, timeout=300)  # warm-up with the long text too
        result = asyncio.run(scenario(url, texts, big, args))
    finally:
        stop(proc)
    a, b = result["alone"], result["burst"]
    print(f"ordinary postings ({args.max_chars} chars) alone:  n {a['n']}, p50 {a['p50_s']:.2f} s, p95 {a['p95_s']:.2f} s")
    print(f"during two clients' {len(big):,}-char postings: {b['ok']}/{b['n']} answered, p50 "
          f"{b['p50_s'] or float('nan'):.2f} s, p95 {b['p95_s'] or float('nan'):.2f} s, statuses {b['statuses']}; "
          f"heavy clients' statuses {b['heavy_statuses']}")
    print(f"p95 during / alone: {result['p95_ratio'] or float('nan'):.2f} (target <= 3); "
          f"back to normal {('%.1f' % result['recovery_s']) if result['recovery_s'] is not None else 'not'} s after the burst "
          "(target <= 10)")
    if args.out:
        args.out.write_text(json.dumps({"model_dir": str(args.keyword_model_dir), **result}, indent=2))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
